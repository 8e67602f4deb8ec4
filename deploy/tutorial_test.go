package deploy_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redistest"
)

// tutorialBlock is one fenced shell block of the README marked
// "```sh tutorial": the commands a newcomer pastes, in order.
type tutorialBlock struct {
	line int // where the block starts in README.md
	text string
}

var tutorialFence = regexp.MustCompile("(?m)^```sh tutorial[ \t]*\n((?s:.*?))^```[ \t]*$")

// tutorialBlocks returns the README's tutorial blocks in reading order.
func tutorialBlocks(t *testing.T) []tutorialBlock {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	var out []tutorialBlock
	for _, m := range tutorialFence.FindAllSubmatchIndex(b, -1) {
		out = append(out, tutorialBlock{
			line: bytes.Count(b[:m[0]], []byte("\n")) + 1,
			text: string(b[m[2]:m[3]]),
		})
	}
	return out
}

// TestREADMETutorial runs the README's tutorial blocks, in order, in one
// shell, from the repository root, as a newcomer pasting them would: the
// README cannot tell a newcomer to run a command that fails. Each block
// runs with errexit and pipefail; the first failing command fails the test
// and names the block. Background programs a block starts are stopped with
// the shell's process group when the test ends.
//
// The only thing the test sets is REDIS_URL, to a Redis of its own: the
// tutorial works with the one a newcomer has at 127.0.0.1:6379, and this
// keeps a test run from writing into it.
func TestREADMETutorial(t *testing.T) {
	blocks := tutorialBlocks(t)
	if len(blocks) < 3 {
		t.Fatalf("README.md has %d \"```sh tutorial\" blocks; the tutorial needs its blocks marked so they are checked", len(blocks))
	}
	r := redistest.New(t)

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	for i, b := range blocks {
		fmt.Fprintf(&script, "echo '=== tutorial block %d (README.md line %d)'\n", i+1, b.line)
		// Each block in a subshell-free group, so a failure stops the
		// script with the block's number already printed.
		script.WriteString(b.text)
		if !strings.HasSuffix(b.text, "\n") {
			script.WriteString("\n")
		}
	}
	script.WriteString("echo '=== tutorial done'\n")

	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
	cmd.Dir = ".."
	cmd.Env = append(os.Environ(), "REDIS_URL="+r.URL)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The whole group goes when the script ends or times out: the
	// tutorial starts a worker in the background.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	}
	if err != nil || !strings.Contains(out.String(), "=== tutorial done") {
		failed := "?"
		if i := strings.LastIndex(out.String(), "=== tutorial block "); i >= 0 {
			failed, _, _ = strings.Cut(out.String()[i+len("=== "):], "\n")
		}
		t.Fatalf("the README's tutorial failed in %s: %v\n%s", failed, err, out.String())
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/tasks"
)

// binary is the enqueue program TestMain built: signals, exit codes and
// what a shell sees are tested on the real thing.
var binary string

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	dir, err := os.MkdirTemp("", "enqueue-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "enqueue")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build enqueue: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func command(t *testing.T, env map[string]string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "NO_COLOR=1"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func runBinary(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := command(t, env, args...)
	var out, errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = strings.NewReader(stdin), &out, &errOut
	return exitCode(t, cmd.Run()), out.String(), errOut.String()
}

func exitCode(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("run enqueue: %v", err)
	return -1
}

func TestHelpVersionCompletionAndFlagMistakes(t *testing.T) {
	t.Parallel()
	// Nothing here may reach Redis.
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}
	tests := []struct {
		name       string
		args       []string
		code       int
		stdout     []string
		stderr     []string
		quietOut   bool
		quietError bool
	}{
		{name: "help", args: []string{"help"}, stdout: []string{"Usage:", "Available Commands:", "publish", "batch", "redeliver", "sweeps", "workspaces", "completion", "Exit codes:"}, quietError: true},
		{name: "--help", args: []string{"--help"}, stdout: []string{"Available Commands:"}, quietError: true},
		{name: "help publish", args: []string{"help", "publish"}, stdout: []string{"Usage:", "enqueue publish --media SRC"}, quietError: true},
		{name: "publish --help", args: []string{"publish", "--help"}, quietError: true, stdout: []string{
			"Usage:\n  enqueue publish", "Examples:", "Flags:", "Global Flags:",
			"--media SRC", "--profile ID", "--caption TEXT", "--now", "--at TIME", "--draft", `--type TYPE`, `(default "MEDIA")`,
			"--first-comment TEXT", "--label NAME", "--label-id ID", "--caption-for NET=TEXT", "--link URL", "--tiktok-branded",
			"--tiktok-ai-generated", "--review", "--post-json FILE", "--post ID", "--key KEY", `(default "after-publish")`, "--webhook URL",
			"--webhook-event EVENT", "--wait", "--timeout DURATION", "--redis URL", `(default "redis://127.0.0.1:6379/0")`,
			"--media-root DIR", "--allowed-source-hosts HOSTS",
		}},
		{name: "publish -h", args: []string{"publish", "-h"}, stdout: []string{"Examples:"}, quietError: true},
		{name: "--version", args: []string{"--version"}, stdout: []string{"enqueue ", "(commit ", runtime.Version()}, quietError: true},
		{name: "completion bash", args: []string{"completion", "bash"}, stdout: []string{"bash completion", "enqueue"}, quietError: true},
		{name: "completion zsh", args: []string{"completion", "zsh"}, stdout: []string{"#compdef enqueue"}, quietError: true},
		{name: "completion fish", args: []string{"completion", "fish"}, stdout: []string{"complete -c enqueue"}, quietError: true},
		{name: "unknown flag", args: []string{"publish", "--bogus"}, code: exitUsage, quietOut: true,
			stderr: []string{"enqueue publish: unknown flag: --bogus", "'enqueue publish --help'"}},
		{name: "unknown shorthand", args: []string{"list", "-z"}, code: exitUsage, quietOut: true,
			stderr: []string{"enqueue list: unknown shorthand flag: 'z'", "'enqueue list --help'"}},
		{name: "bad flag value", args: []string{"publish", "--wait", "--timeout", "soon"}, code: exitUsage, quietOut: true,
			stderr: []string{"enqueue publish: invalid argument \"soon\" for \"--timeout\"", "'enqueue publish --help'"}},
		{name: "unknown command", args: []string{"send"}, code: exitUsage, quietOut: true, stderr: []string{`unknown command "send"`, "'enqueue --help'"}},
		{name: "no command", args: nil, code: exitUsage, quietOut: true, stderr: []string{"usage: enqueue <command>"}},
	}
	for _, sub := range []string{"batch", "status", "follow", "wait", "list", "cancel", "edit", "replay", "bulk", "redeliver", "sweeps"} {
		tests = append(tests, struct {
			name       string
			args       []string
			code       int
			stdout     []string
			stderr     []string
			quietOut   bool
			quietError bool
		}{name: sub + " --help", args: []string{sub, "--help"}, stdout: []string{"Usage:\n  enqueue " + sub}, quietError: true})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runBinary(t, env, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.stdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
			if tt.quietOut && stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if tt.quietError && stderr != "" {
				t.Errorf("stderr %q, want nothing", stderr)
			}
			if strings.Contains(stdout+stderr, "\x1b[") {
				t.Errorf("colour codes with NO_COLOR set")
			}
		})
	}
	// Five examples in publish's help, each a whole command.
	_, stdout, _ := runBinary(t, env, "", "publish", "--help")
	_, examples, _ := strings.Cut(stdout, "Examples:")
	examples, _, _ = strings.Cut(examples, "Flags:")
	if n := strings.Count(examples, "  enqueue publish "); n != 5 {
		t.Errorf("publish --help has %d examples, want 5:\n%s", n, examples)
	}
}

// Ctrl-C (or a TERM) during --wait stops following, not the pipeline:
// exit 130, and how to keep following.
func TestWaitInterruptedExits130(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "a.png"), testmedia.PNG(8, 8, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			// No worker: the pipeline stays pending, so only the signal ends the wait.
			cmd := command(t, map[string]string{"REDIS_URL": r.URL, "MEDIA_ROOT": root},
				"publish", "--media", "a.png", "--profile", "prof_1", "--caption", "x", "--draft", "--wait")
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// The id is printed before the wait begins.
			id, err := bufio.NewReader(out).ReadString('\n')
			if err != nil {
				_ = cmd.Process.Kill()
				t.Fatalf("no id: %v; stderr %s", err, stderr.String())
			}
			id = strings.TrimSpace(id)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			code := exitCode(t, cmd.Wait())
			if code != exitInterrupted {
				t.Errorf("exit %d, want 130; stderr %s", code, stderr.String())
			}
			if want := "follow it with: enqueue follow " + id; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
			}
			if rec, err := tasks.NewClient(r.Client).Get(context.Background(), id); err != nil || rec.State != tasks.StatePending {
				t.Errorf("after the interrupt the pipeline is %v (%v), want it still pending", rec, err)
			}
		})
	}
}

// rchar is how many bytes process pid has read so far.
func rchar(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "rchar: "); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

// batch stops reading on SIGINT or SIGTERM within a second, on endless
// input without newlines and on a pipe whose writer never writes again.
func TestBatchStopsOnSignal(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	tests := []struct {
		name  string
		input string // "/dev/zero", or "pipe": stdin held open
		sig   syscall.Signal
	}{
		{"/dev/zero SIGINT", "/dev/zero", syscall.SIGINT},
		{"/dev/zero SIGTERM", "/dev/zero", syscall.SIGTERM},
		{"idle stdin pipe SIGINT", "pipe", syscall.SIGINT},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			arg := tt.input
			if arg == "pipe" {
				arg = "-"
			}
			cmd := command(t, map[string]string{"REDIS_URL": r.URL}, "batch", arg)
			var stdout, stderr logbuf.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			var w io.WriteCloser
			if tt.input == "pipe" {
				var err error
				if w, err = cmd.StdinPipe(); err != nil {
					t.Fatal(err)
				}
				defer w.Close()
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			// Wait until it is reading: bytes read from /dev/zero, or a
			// first (bad) line answered from the pipe.
			deadline := time.Now().Add(10 * time.Second)
			if tt.input == "pipe" {
				if _, err := io.WriteString(w, "{}\n"); err != nil {
					t.Fatal(err)
				}
			}
			for !(tt.input == "pipe" && strings.Contains(stderr.String(), "line 1:")) && !(tt.input != "pipe" && rchar(t, cmd.Process.Pid) > 8<<20) {
				if time.Now().After(deadline) {
					_ = cmd.Process.Kill()
					t.Fatalf("not reading after 10s; stderr %s", stderr.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			sent := time.Now()
			if err := cmd.Process.Signal(tt.sig); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if took := time.Since(sent); took > 3*time.Second {
					t.Errorf("stopped %s after the signal, want within 3s", took)
				}
				if code := exitCode(t, err); code != exitInterrupted {
					t.Errorf("exit %d, want 130; stderr %s", code, stderr.String())
				}
				if !strings.Contains(stderr.String(), "enqueue batch: interrupted") {
					t.Errorf("stderr lacks the interruption:\n%s", stderr.String())
				}
			case <-time.After(5 * time.Second):
				_ = cmd.Process.Kill()
				t.Fatalf("still running 5s after %s", tt.sig)
			}
		})
	}
}

// Pipes work wherever a file name goes: no seeking.
func TestBatchReadsPipes(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	line := `{"media":[{"source":"https://cdn.example.com/a.jpg"}],"post":{"profileIds":["prof_1"],"caption":"piped"},"action":"draft"}`
	input := line + "\n" + line + "\n"
	file := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(file, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"REDIS_URL": r.URL}
	tests := []struct {
		name string
		run  func() (int, string, string)
	}{
		{"- on a pipe", func() (int, string, string) { return runBinary(t, env, input, "batch", "-") }},
		{"/dev/stdin on a pipe", func() (int, string, string) { return runBinary(t, env, input, "batch", "/dev/stdin") }},
		{"process substitution", func() (int, string, string) {
			cmd := command(t, env, "-c", `"$0" batch <(cat "$1")`, binary, file)
			cmd.Path, cmd.Args[0] = "/bin/bash", "bash"
			var out, errOut bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errOut
			return exitCode(t, cmd.Run()), out.String(), errOut.String()
		}},
		{"regular file", func() (int, string, string) { return runBinary(t, env, "", "batch", file) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := tt.run()
			if code != exitOK || len(strings.Fields(stdout)) != 2 || !strings.Contains(stderr, "2 enqueued, 0 bad") {
				t.Errorf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
			}
		})
	}
}

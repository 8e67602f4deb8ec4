package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/mediaflow/mediaflow/internal/redistest"
)

// openPTY opens a pseudo-terminal: what a person's terminal looks like to
// the worker (term.IsTerminal on its stderr is true).
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	t.Cleanup(func() { _ = master.Close() })
	var unlock int32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCSPTLCK, uintptr(unsafe.Pointer(&unlock))); errno != 0 {
		t.Fatalf("unlock the pseudo-terminal: %v", errno)
	}
	var n uint32
	if _, _, errno := syscall.Syscall(syscall.SYS_IOCTL, master.Fd(), syscall.TIOCGPTN, uintptr(unsafe.Pointer(&n))); errno != 0 {
		t.Fatalf("pseudo-terminal number: %v", errno)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tty.Close() })
	return master, tty
}

// With LOG_FORMAT unset, a worker whose stderr is a terminal logs console
// lines for the person reading them; on a pipe it logs JSON for the
// collector. LOG_FORMAT wins over both.
func TestLogFormatFollowsTheTerminal(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	pipeR, pipeW, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pipeR.Close(); _ = pipeW.Close() })
	master, tty := openPTY(t)
	for _, tt := range []struct {
		name    string
		out     *os.File
		read    *os.File
		format  string
		console bool
	}{
		{"terminal", tty, master, "", true},
		{"pipe", pipeW, pipeR, "", false},
		{"terminal, LOG_FORMAT=json", tty, master, "json", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int, 1)
			go func() {
				done <- run(ctx, []string{"-sandbox", "-redis", r.URL, "-metrics-addr", "off"}, envOf(map[string]string{"LOG_FORMAT": tt.format}), os.Stdout, tt.out)
			}()
			lines := bufio.NewScanner(tt.read)
			var started string
			for lines.Scan() {
				if strings.Contains(lines.Text(), "worker started") {
					started = strings.TrimRight(lines.Text(), "\r")
					break
				}
			}
			cancel()
			select {
			case code := <-done:
				if code != 0 {
					t.Fatalf("exit %d; start line %q", code, started)
				}
			case <-time.After(45 * time.Second):
				t.Fatal("the worker did not stop")
			}
			// Drain what it wrote while stopping, so the next run starts
			// on a clean stream.
			for !strings.Contains(lines.Text(), "worker stopped") && lines.Scan() {
			}
			isJSON := strings.HasPrefix(started, "{")
			isConsole := strings.Contains(started, "INF") && strings.Contains(started, "media_root=")
			if started == "" || isJSON == tt.console || isConsole != tt.console {
				t.Errorf("start line %q: want console %v", started, tt.console)
			}
		})
	}
}

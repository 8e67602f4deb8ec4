package main

import (
	"strings"
	"testing"
)

// enqueue workspaces lists each workspace with its pause; enqueue
// workspace pause and resume steer one by hand, and refuse a name the
// fleet does not serve.
func TestWorkspacesPauseAndResume(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	state := func() string {
		t.Helper()
		code, out, errOut := c.run("", "workspaces")
		if code != exitOK {
			t.Fatalf("workspaces: exit %d: %s", code, errOut)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 || !strings.HasPrefix(lines[0], "WORKSPACE") || !strings.HasPrefix(lines[1], "default ") {
			t.Fatalf("workspaces printed:\n%s", out)
		}
		return lines[1]
	}
	if got := state(); !strings.Contains(got, "active") {
		t.Errorf("before any pause: %q", got)
	}
	if code, _, errOut := c.run("", "workspace", "pause", "default", "--why", "key rotation"); code != exitOK {
		t.Fatalf("pause: exit %d: %s", code, errOut)
	}
	if got := state(); !strings.Contains(got, "paused by hand") || !strings.Contains(got, "key rotation") {
		t.Errorf("after the pause: %q", got)
	}
	if code, _, errOut := c.run("", "workspace", "resume", "default"); code != exitOK {
		t.Fatalf("resume: exit %d: %s", code, errOut)
	}
	if got := state(); !strings.Contains(got, "active") {
		t.Errorf("after the resume: %q", got)
	}
	code, _, errOut := c.run("", "workspace", "pause", "initech")
	if code != exitFailed || !strings.Contains(errOut, `unknown workspace "initech"`) || strings.Count(errOut, "\n") != 1 {
		t.Errorf("pausing an unknown workspace: exit %d, %q", code, errOut)
	}
	if code, _, _ := c.run("", "workspace"); code != exitUsage {
		t.Errorf("workspace without a verb: exit %d, want %d", code, exitUsage)
	}
}

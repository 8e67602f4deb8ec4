package main

import (
	"bytes"
	"strings"
	"testing"
)

// A tiny run goes through every part of the harness, so it cannot rot
// between the times someone measures with it.
func TestSmallRun(t *testing.T) {
	var out, errOut bytes.Buffer
	code := run([]string{"-requests", "60", "-warmup", "10", "-runs", "2", "-concurrency", "5", "-media", "2"}, &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	for _, want := range []string{"run 1: 60 accepted", "run 2: 60 accepted", "median: 60 accepted", "accepted/s", "p99", "cores used", "target ("} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"-concurrency", "0"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "at least 1") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	buildinfo "github.com/mediaflow/mediaflow/internal/version"
)

func TestVersionFlag(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-version", "--version"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			var out, errOut bytes.Buffer
			// A broken environment must not hide the version.
			code := run(context.Background(), []string{arg}, envOf(map[string]string{"CONCURRENCY": "many"}), &out, &errOut)
			if code != 0 {
				t.Errorf("exit %d, want 0; stderr %q", code, errOut.String())
			}
			want := buildinfo.String("worker") + "\n"
			if out.String() != want {
				t.Errorf("stdout %q, want exactly %q", out.String(), want)
			}
			if errOut.Len() != 0 {
				t.Errorf("stderr %q, want nothing (no usage)", errOut.String())
			}
			if strings.Count(out.String(), "worker ") != 1 {
				t.Errorf("version printed %d times", strings.Count(out.String(), "worker "))
			}
		})
	}
}

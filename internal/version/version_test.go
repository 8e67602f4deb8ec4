package version

import (
	"runtime"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	tests := []struct {
		name, version, commit string
		want                  []string
	}{
		{"set by ldflags", "v1.2.3", "abc1234", []string{"worker v1.2.3 ", "commit abc1234", runtime.Version()}},
		{"unset falls back", "", "", []string{"worker ", runtime.Version()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			oldV, oldC := Version, Commit
			Version, Commit = tt.version, tt.commit
			defer func() { Version, Commit = oldV, oldC }()
			got := String("worker")
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("String() = %q, want it to contain %q", got, w)
				}
			}
			if strings.Contains(got, "\n") {
				t.Errorf("String() = %q spans lines", got)
			}
		})
	}
}

func TestRevision(t *testing.T) {
	oldC := Commit
	defer func() { Commit = oldC }()
	Commit = "abc1234"
	if got := Revision(); got != "abc1234" {
		t.Errorf("Revision() = %q, want the linker's abc1234", got)
	}
	Commit = ""
	if got := Revision(); got == "" {
		t.Error("Revision() is empty without a linker value; want the toolchain's or unknown")
	}
}

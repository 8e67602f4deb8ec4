// Package version says which build of a mediaflow program is running.
//
// Version and Commit are set at link time by the Makefile and the Dockerfile:
//
//	go build -ldflags "-X github.com/mediaflow/mediaflow/internal/version.Version=v1.2.3 \
//	  -X github.com/mediaflow/mediaflow/internal/version.Commit=abc1234" ./cmd/...
//
// A plain `go build` or `go run` leaves them empty; String then falls back to
// what the Go toolchain recorded in the binary (module version, VCS revision).
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by -ldflags -X; empty in an ordinary build.
var (
	Version string
	Commit  string
)

// String is the one line every program prints for --version:
// "<program> <version> (commit <commit>, <go version>)".
func String(program string) string {
	v, c := resolve()
	return fmt.Sprintf("%s %s (commit %s, %s)", program, v, c, runtime.Version())
}

// Number is the version alone ("dev" in an unstamped build), for metrics
// labels, logs and the User-Agent.
func Number() string {
	v, _ := resolve()
	return v
}

// Revision is the commit alone ("unknown" when neither the linker nor the
// toolchain recorded one), for metrics labels and trace resources.
func Revision() string {
	_, c := resolve()
	return c
}

// resolve is Version and Commit, falling back to what the Go toolchain
// recorded in the binary.
func resolve() (v, c string) {
	v, c = Version, Commit
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if c == "" {
			for _, s := range info.Settings {
				if s.Key == "vcs.revision" {
					c = s.Value
					if len(c) > 12 {
						c = c[:12]
					}
				}
			}
		}
	}
	if v == "" {
		v = "dev"
	}
	if c == "" {
		c = "unknown"
	}
	return v, c
}

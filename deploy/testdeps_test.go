package deploy_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// testDepsScript is the one place that knows what the suite needs from the
// machine; `make test` runs it before anything else.
var testDepsScript = filepath.Join("..", "scripts", "test-deps")

// fakeBin is a folder that stands in for the whole PATH: only what a test
// puts there exists, so the script is checked as on a fresh machine.
type fakeBin struct {
	t   *testing.T
	dir string
}

func newFakeBin(t *testing.T, real ...string) *fakeBin {
	t.Helper()
	b := &fakeBin{t: t, dir: t.TempDir()}
	for _, name := range append([]string{"sh", "sed", "head"}, real...) {
		path, err := exec.LookPath(name)
		if err != nil {
			t.Fatalf("%s is needed to run the script under test: %v", name, err)
		}
		if err := os.Symlink(path, filepath.Join(b.dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// script adds a program written in sh.
func (b *fakeBin) script(name, body string) {
	b.t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		b.t.Fatal(err)
	}
}

// programs adds stand-ins for every program the suite runs, with Redis at
// redisVersion.
func (b *fakeBin) programs(redisVersion string) {
	b.script("curl", `echo "curl 7.88.1 (x86_64-pc-linux-gnu)"`)
	b.script("openssl", `echo "OpenSSL 3.0.17 1 Jul 2025"`)
	b.script("jq", `echo "jq-1.6"`)
	b.script("redis-server", `echo "Redis server v=`+redisVersion+` sha=00000000:0 malloc=jemalloc-5.3.0 bits=64 build=1"`)
	b.script("redis-cli", `echo "redis-cli `+redisVersion+`"`)
	b.script("prometheus", `echo "prometheus, version 2.42.0+ds (branch: debian/sid)"`)
	b.script("promtool", `echo "promtool, version 2.42.0+ds (branch: debian/sid)"`)
	b.script("chromium", `echo "Chromium 156.0.8078.114"`)
	b.script("ffmpeg", `echo "ffmpeg version 5.1.9-0+deb12u1 Copyright (c) 2000-2026 the FFmpeg developers"`)
	b.script("ffprobe", `echo "ffprobe version 5.1.9-0+deb12u1 Copyright (c) 2007-2026 the FFmpeg developers"`)
}

func (b *fakeBin) run(env []string, name string, args ...string) (stdout, stderr string, code int) {
	b.t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append([]string{"PATH=" + b.dir, "HOME=" + b.t.TempDir()}, env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		b.t.Fatalf("run %s: %v", name, err)
	}
	return o.String(), e.String(), code
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l != "" {
			out = append(out, l)
		}
	}
	return out
}

func TestTestDepsReportsWhatIsMissing(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs(testDepsScript)
	if err != nil {
		t.Fatal(err)
	}
	// A Debian machine's apt-get, which must not be run when installing is
	// forbidden: it leaves a trace if it is.
	aptGet := `echo "apt-get $*" >> "$APT_LOG"; exit 1`
	const (
		aptLine   = "; install it with: sudo apt-get install -y "
		otherLine = "; install the package "
	)
	cases := []struct {
		name    string
		setup   func(b *fakeBin)
		want    []string // stderr lines, in order
		wantOut string   // a prefix of stdout
		code    int
	}{
		{
			name:  "nothing installed, Debian",
			setup: func(b *fakeBin) { b.script("apt-get", aptGet) },
			want: []string{
				"test-deps: curl: not found in PATH" + aptLine + "curl",
				"test-deps: openssl: not found in PATH" + aptLine + "openssl",
				"test-deps: jq: not found in PATH" + aptLine + "jq",
				"test-deps: redis-server: not found in PATH" + aptLine + "redis-server",
				"test-deps: redis-cli: not found in PATH" + aptLine + "redis-tools",
				"test-deps: prometheus: not found in PATH" + aptLine + "prometheus",
				"test-deps: promtool: not found in PATH" + aptLine + "prometheus",
				"test-deps: chromium: not found in PATH" + aptLine + "chromium",
				"test-deps: ffmpeg: not found in PATH" + aptLine + "ffmpeg",
				"test-deps: ffprobe: not found in PATH" + aptLine + "ffmpeg",
			},
			code: 1,
		},
		{
			name: "nothing installed, not Debian",
			want: []string{
				"test-deps: curl: not found in PATH" + otherLine + `"curl" (Debian/Ubuntu: curl)`,
				"test-deps: openssl: not found in PATH" + otherLine + `"openssl" (Debian/Ubuntu: openssl)`,
				"test-deps: jq: not found in PATH" + otherLine + `"jq" (Debian/Ubuntu: jq)`,
				"test-deps: redis-server: not found in PATH" + otherLine + `"redis" (Debian/Ubuntu: redis-server)`,
				"test-deps: redis-cli: not found in PATH" + otherLine + `"redis" (Debian/Ubuntu: redis-tools)`,
				"test-deps: prometheus: not found in PATH" + otherLine + `"prometheus" (Debian/Ubuntu: prometheus)`,
				"test-deps: promtool: not found in PATH" + otherLine + `"prometheus" (Debian/Ubuntu: prometheus)`,
				"test-deps: chromium: not found in PATH" + otherLine + `"chromium" (Debian/Ubuntu: chromium)`,
				"test-deps: ffmpeg: not found in PATH" + otherLine + `"ffmpeg" (Debian/Ubuntu: ffmpeg)`,
				"test-deps: ffprobe: not found in PATH" + otherLine + `"ffmpeg" (Debian/Ubuntu: ffmpeg)`,
			},
			code: 1,
		},
		{
			name: "only prometheus missing",
			setup: func(b *fakeBin) {
				b.programs("7.0.15")
				_ = os.Remove(filepath.Join(b.dir, "prometheus"))
				_ = os.Remove(filepath.Join(b.dir, "promtool"))
				b.script("apt-get", aptGet)
			},
			want: []string{
				"test-deps: prometheus: not found in PATH" + aptLine + "prometheus",
				"test-deps: promtool: not found in PATH" + aptLine + "prometheus",
			},
			code: 1,
		},
		{
			name: "Redis too old",
			setup: func(b *fakeBin) {
				b.programs("6.0.16")
				b.script("apt-get", aptGet)
			},
			want: []string{
				"test-deps: redis-server: version 6.0.16, need >= 6.2" + aptLine + "redis-server",
				"test-deps: redis-cli: version 6.0.16, need >= 6.2" + aptLine + "redis-tools",
			},
			code: 1,
		},
		{
			name:    "everything present",
			setup:   func(b *fakeBin) { b.programs("6.2.0"); b.script("apt-get", aptGet) },
			wantOut: "test-deps: ok (redis 6.2.0, prometheus 2.42.0+ds, chromium, ffmpeg 5.1.9-0+deb12u1)",
		},
		{
			name: "only ffprobe missing",
			setup: func(b *fakeBin) {
				b.programs("7.0.15")
				_ = os.Remove(filepath.Join(b.dir, "ffprobe"))
				b.script("apt-get", aptGet)
			},
			want: []string{"test-deps: ffprobe: not found in PATH" + aptLine + "ffmpeg"},
			code: 1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := newFakeBin(t)
			if tc.setup != nil {
				tc.setup(b)
			}
			aptLog := filepath.Join(t.TempDir(), "apt.log")
			stdout, stderr, code := b.run([]string{"TEST_DEPS_NO_INSTALL=1", "APT_LOG=" + aptLog}, "sh", script)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, stdout, stderr)
			}
			if got := lines(stderr); !slices.Equal(got, tc.want) {
				t.Errorf("stderr lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !strings.HasPrefix(stdout, tc.wantOut) {
				t.Errorf("stdout %q, want it to start with %q", stdout, tc.wantOut)
			}
			if b, err := os.ReadFile(aptLog); err == nil {
				t.Errorf("apt-get ran with TEST_DEPS_NO_INSTALL=1:\n%s", b)
			}
		})
	}
}

// As root on Debian the script installs the missing packages, updating the
// package lists first, and then checks again.
func TestTestDepsInstallsWithAptGet(t *testing.T) {
	t.Parallel()
	script, err := filepath.Abs(testDepsScript)
	if err != nil {
		t.Fatal(err)
	}
	b := newFakeBin(t)
	b.script("id", `echo 0`)
	b.programs("7.2.4")
	for _, p := range []string{"prometheus", "promtool", "chromium", "ffmpeg", "ffprobe"} {
		_ = os.Remove(filepath.Join(b.dir, p))
	}
	// apt-get "installs" the prometheus, chromium and ffmpeg packages by
	// writing stand-ins next to itself.
	b.script("apt-get", `echo "apt-get $*" >> "$APT_LOG"
case "$*" in *install*)
  d=$(dirname "$0")
  for p in prometheus promtool; do printf '#!/bin/sh\necho "%s, version 2.42.0+ds"\n' "$p" > "$d/$p"; chmod +x "$d/$p"; done
  for p in ffmpeg ffprobe; do printf '#!/bin/sh\necho "%s version 5.1.9"\n' "$p" > "$d/$p"; chmod +x "$d/$p"; done
  printf '#!/bin/sh\necho Chromium\n' > "$d/chromium"; chmod +x "$d/chromium" ;;
esac`)
	b.script("dirname", `echo "${1%/*}"`)
	b.script("chmod", `exec /bin/chmod "$@"`)
	aptLog := filepath.Join(t.TempDir(), "apt.log")
	stdout, stderr, code := b.run([]string{"APT_LOG=" + aptLog}, "sh", script)
	if code != 0 {
		t.Fatalf("exit %d, want 0 once installed\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	log, err := os.ReadFile(aptLog)
	if err != nil {
		t.Fatalf("apt-get never ran: %v", err)
	}
	got := lines(string(log))
	want := []string{
		"apt-get -o DPkg::Lock::Timeout=300 update -qq",
		"apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends prometheus chromium ffmpeg",
	}
	if !slices.Equal(got, want) {
		t.Errorf("apt-get calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if !strings.Contains(stdout, "test-deps: ok") {
		t.Errorf("stdout %q lacks the ok line", stdout)
	}
}

// `make test` stops at the check: with programs missing it names them and
// never starts go vet or go test.
func TestMakeTestChecksDepsFirst(t *testing.T) {
	t.Parallel()
	b := newFakeBin(t, "make")
	goLog := filepath.Join(t.TempDir(), "go.log")
	b.script("go", `echo "go $*" >> "`+goLog+`"`)
	b.script("git", `exit 1`)
	b.programs("7.2.4")
	_ = os.Remove(filepath.Join(b.dir, "chromium"))
	stdout, stderr, code := b.run([]string{"TEST_DEPS_NO_INSTALL=1"}, "make", "-C", "..", "--no-print-directory", "test")
	if code == 0 {
		t.Fatalf("make test exited 0 with chromium missing\nstdout: %s\nstderr: %s", stdout, stderr)
	}
	if !strings.Contains(stderr, "test-deps: chromium: not found in PATH") {
		t.Errorf("make test's output does not name the missing chromium:\n%s%s", stdout, stderr)
	}
	if b, err := os.ReadFile(goLog); err == nil {
		t.Errorf("make test ran go although a program is missing:\n%s", b)
	}

	// With everything there it builds the test tools, then runs the suite.
	b.script("chromium", `echo Chromium`)
	stdout, stderr, code = b.run([]string{"TEST_DEPS_NO_INSTALL=1"}, "make", "-C", "..", "--no-print-directory", "test")
	if code != 0 {
		t.Fatalf("make test with every program present: exit %d\nstdout: %s\nstderr: %s", code, stdout, stderr)
	}
	log, err := os.ReadFile(goLog)
	if err != nil {
		t.Fatalf("make test never ran go: %v", err)
	}
	if want := []string{"go tool -n jaeger", "go vet ./...", "go test -race -count=1 ./..."}; !slices.Equal(lines(string(log)), want) {
		t.Errorf("make test ran %q, want %q", lines(string(log)), want)
	}
}

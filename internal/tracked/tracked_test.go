package tracked_test

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
)

// maxSize is the most a tracked file other than sample media may hold.
const maxSize = 1 << 20

// binaryMagic are the first bytes of compiled programs: ELF (Linux), the
// Mach-O forms (macOS) and PE (Windows).
var binaryMagic = [][]byte{
	[]byte("\x7fELF"),
	{0xfe, 0xed, 0xfa, 0xce}, {0xfe, 0xed, 0xfa, 0xcf}, {0xce, 0xfa, 0xed, 0xfe}, {0xcf, 0xfa, 0xed, 0xfe}, {0xca, 0xfe, 0xba, 0xbe},
	[]byte("MZ"),
}

// sampleMedia: images and videos under a samples or testdata folder (the
// demo's pictures) may be larger; they still may not be programs.
func sampleMedia(name string) bool {
	dir := "/" + path.Dir(name) + "/"
	switch strings.ToLower(path.Ext(name)) {
	case ".png", ".jpg", ".jpeg", ".gif", ".webp", ".mp4", ".mov":
		return strings.Contains(dir, "/samples/") || strings.Contains(dir, "/testdata/")
	}
	return false
}

// problem says what is wrong with a tracked file, "" when nothing is.
func problem(name string, size int64, head []byte) string {
	for _, m := range binaryMagic {
		if bytes.HasPrefix(head, m) {
			return "is a compiled binary"
		}
	}
	if size > maxSize && !sampleMedia(name) {
		return "is larger than 1 MiB"
	}
	return ""
}

func TestTrackedFilesAreSource(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to list the tracked files: install git")
	}
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Fatalf("not in a git checkout: %v", err)
	}
	root := strings.TrimSpace(string(top))
	out, err := exec.Command("git", "-C", root, "ls-files", "-z").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	names := strings.Split(strings.TrimRight(string(out), "\x00"), "\x00")
	if len(names) < 10 {
		t.Fatalf("git lists %d files; the check would prove nothing", len(names))
	}
	for _, name := range names {
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(name)))
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not committed yet
		}
		if err != nil {
			t.Fatal(err)
		}
		st, err := f.Stat()
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p := problem(name, st.Size(), head[:n]); p != "" {
			t.Errorf("%s %s: git should track source only (build outputs go to bin/, which .gitignore lists)", name, p)
		}
	}
}

// The check itself: what it flags and what it lets through.
func TestTrackedProblems(t *testing.T) {
	t.Parallel()
	elf := []byte("\x7fELF")
	cases := []struct {
		name string
		size int64
		head []byte
		bad  bool
	}{
		{"bench", 21 << 20, elf, true},
		{"tools/x", 100, elf, true},
		{"cmd/worker/samples/big.jpg", 3 << 20, []byte{0xff, 0xd8, 0xff, 0xe0}, false},
		{"cmd/worker/samples/trojan.png", 100, elf, true},
		{"docs/huge.png", 2 << 20, []byte{0x89, 'P', 'N', 'G'}, true},
		{"data/dump.json", 2 << 20, []byte(`{"a"`), true},
		{"app.exe", 4096, []byte("MZ\x90\x00"), true},
		{"tasks/run.go", 9000, []byte("pack"), false},
		{"README.md", maxSize, []byte("# me"), false},
	}
	for _, tc := range cases {
		if got := problem(tc.name, tc.size, tc.head) != ""; got != tc.bad {
			t.Errorf("%s (%d bytes): flagged %v, want %v", tc.name, tc.size, got, tc.bad)
		}
	}
}

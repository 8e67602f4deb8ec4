package source

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// mediaTree lays out a MEDIA_ROOT with a sibling file outside it:
//
//	base/outside.jpg            secret, outside the root
//	base/root/a.png
//	base/root/sub/b.png
//	base/root/empty.png
//	base/root/fifo              named pipe
//	base/root/link-in     -> sub/b.png
//	base/root/link-out    -> ../outside.jpg
//	base/root/link-abs    -> base/root/a.png (absolute)
//	base/root/dir-in      -> sub
//	base/root/dir-out     -> ..
//	base/root/loop        -> loop
func mediaTree(t *testing.T) (root, outside string, png []byte) {
	t.Helper()
	base := t.TempDir()
	root = filepath.Join(base, "root")
	outside = filepath.Join(base, "outside.jpg")
	png = pngFile(t)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "sub"), 0o755))
	must(os.WriteFile(outside, []byte("SECRET outside the root"), 0o644))
	must(os.WriteFile(filepath.Join(root, "a.png"), png, 0o644))
	must(os.WriteFile(filepath.Join(root, "sub", "b.png"), png, 0o644))
	must(os.WriteFile(filepath.Join(root, "empty.png"), nil, 0o644))
	must(syscall.Mkfifo(filepath.Join(root, "fifo"), 0o644))
	must(os.Symlink("sub/b.png", filepath.Join(root, "link-in")))
	must(os.Symlink("../outside.jpg", filepath.Join(root, "link-out")))
	must(os.Symlink(filepath.Join(root, "a.png"), filepath.Join(root, "link-abs")))
	must(os.Symlink("sub", filepath.Join(root, "dir-in")))
	must(os.Symlink("..", filepath.Join(root, "dir-out")))
	must(os.Symlink("loop", filepath.Join(root, "loop")))
	return root, outside, png
}

func TestLocal(t *testing.T) {
	t.Parallel()
	root, outside, png := mediaTree(t)
	o := mustNew(t, Config{Root: root})

	tests := []struct {
		src       string
		kind      error // nil: opens and reads png
		checkFail bool  // Check alone already refuses it
		name      string
	}{
		{src: "a.png", name: "a.png"},
		{src: "./a.png", name: "a.png"},
		{src: "sub/../a.png", name: "a.png"},
		{src: root + "/a.png", name: "a.png"},
		{src: root + "/sub/b.png", name: "b.png"},
		{src: "file://" + root + "/a.png", name: "a.png"},
		{src: "file://localhost" + root + "/a.png", name: "a.png"},
		{src: "file://" + root + "/sub%2Fb.png", name: "b.png"},
		{src: "link-in", name: "link-in"},
		{src: "dir-in/b.png", name: "b.png"},

		{src: "../outside.jpg", kind: errOutsideRoot, checkFail: true},
		{src: "sub/../../outside.jpg", kind: errOutsideRoot, checkFail: true},
		{src: root + "/../outside.jpg", kind: errOutsideRoot, checkFail: true},
		{src: outside, kind: errOutsideRoot, checkFail: true},
		{src: "/etc/passwd", kind: errOutsideRoot, checkFail: true},
		{src: "file:///etc/passwd", kind: errOutsideRoot, checkFail: true},
		{src: root + "x/a.png", kind: errOutsideRoot, checkFail: true}, // a sibling that shares the prefix
		{src: "link-out", kind: errOutsideRoot},
		{src: "dir-out/outside.jpg", kind: errOutsideRoot},
		{src: "link-abs", kind: errOutsideRoot}, // os.Root refuses absolute links, even pointing inside

		{src: "missing.png", kind: errNotFound},
		{src: "a.png/x", kind: errNotFound},
		{src: "loop", kind: errNotFound},
		{src: "sub", kind: errNotRegular},
		{src: root, kind: errNotRegular},
		{src: "fifo", kind: errNotRegular},
		{src: "empty.png", kind: errEmpty},

		{src: "", kind: errBadSource, checkFail: true},
		{src: "a.png\n", kind: errBadSource, checkFail: true},
		{src: "file://fileserver/share/a.png", kind: errBadSource, checkFail: true},
		{src: "file:a.png", kind: errBadSource, checkFail: true},
		{src: "file://" + root + "/a.png?x=1", kind: errBadSource, checkFail: true},
		{src: "ftp://example.com/a.png", kind: errBadSource, checkFail: true},
		{src: "data:image/png;base64,iVBORw0KGgo=", kind: errBadSource, checkFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			t.Parallel()
			checkErr := o.Check(tt.src)
			if (checkErr != nil) != tt.checkFail {
				t.Errorf("Check = %v, want failure %v", checkErr, tt.checkFail)
			}
			done := make(chan struct{})
			var m *Media
			var err error
			go func() {
				defer close(done)
				m, err = o.Open(context.Background(), tt.src, Hint{})
			}()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Open blocked") // a FIFO opened without O_NONBLOCK hangs here
			}
			if tt.kind != nil {
				if err == nil {
					got := readAll(t, m)
					m.Close()
					t.Fatalf("Open succeeded and read %q; want %v", got, tt.kind)
				}
				if !errors.Is(err, tt.kind) || !IsPermanent(err) {
					t.Fatalf("Open = %v (permanent %v); want permanent %v", err, IsPermanent(err), tt.kind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			defer m.Close()
			if m.Name != tt.name || m.ContentType != "image/png" || m.Size != int64(len(png)) {
				t.Errorf("Name %q, ContentType %q, Size %d; want %q, image/png, %d", m.Name, m.ContentType, m.Size, tt.name, len(png))
			}
			if got := readAll(t, m); !bytes.Equal(got, png) {
				t.Errorf("read %d bytes that differ from the file", len(got))
			}
		})
	}
}

func TestLocalDisabledWithoutRoot(t *testing.T) {
	t.Parallel()
	root, _, _ := mediaTree(t)
	o := mustNew(t, Config{})
	for _, src := range []string{"a.png", root + "/a.png", "file://" + root + "/a.png"} {
		if err := o.Check(src); !errors.Is(err, errOutsideRoot) || !IsPermanent(err) {
			t.Errorf("Check(%s) without Root = %v; want refused", src, err)
		}
		if _, err := o.Open(context.Background(), src, Hint{}); !errors.Is(err, errOutsideRoot) {
			t.Errorf("Open(%s) without Root = %v; want refused", src, err)
		}
	}
}

func TestSymlinkedRoot(t *testing.T) {
	t.Parallel()
	root, _, png := mediaTree(t)
	alias := filepath.Join(t.TempDir(), "media")
	if err := os.Symlink(root, alias); err != nil {
		t.Fatal(err)
	}
	o := mustNew(t, Config{Root: alias})
	// Both spellings of the root name the same folder.
	for _, src := range []string{alias + "/a.png", root + "/a.png", "a.png"} {
		m, err := o.Open(context.Background(), src, Hint{})
		if err != nil {
			t.Errorf("Open(%s): %v", src, err)
			continue
		}
		if got := readAll(t, m); !bytes.Equal(got, png) {
			t.Errorf("Open(%s) read the wrong bytes", src)
		}
		m.Close()
	}
}

func TestNewRoot(t *testing.T) {
	t.Parallel()
	root, outside, _ := mediaTree(t)
	if _, err := New(Config{Root: filepath.Join(root, "missing")}); err == nil {
		t.Error("New accepted a missing MEDIA_ROOT")
	}
	if _, err := New(Config{Root: outside}); err == nil {
		t.Error("New accepted a file as MEDIA_ROOT")
	}
	if _, err := New(Config{SpoolDir: filepath.Join(root, "missing")}); err == nil {
		t.Error("New accepted a missing SpoolDir")
	}
}

// TestLocalSwapRace swaps a file and a directory for symbolic links that
// leave the root while Open runs. A check-then-open implementation reads the
// secret sooner or later; os.Root resolves and opens in one walk and never
// does.
func TestLocalSwapRace(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	root := filepath.Join(base, "root")
	secretDir := filepath.Join(base, "secret")
	for _, d := range []string{root, secretDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	secret := []byte("SECRET-BYTES")
	good := []byte("GOOD-BYTES")
	write := func(p string, b []byte) {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Error(err)
		}
	}
	write(filepath.Join(base, "secret.png"), secret)
	write(filepath.Join(secretDir, "x.png"), secret)
	write(filepath.Join(root, "x.png"), good)
	if err := os.Mkdir(filepath.Join(root, "dir"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(filepath.Join(root, "dir", "x.png"), good)

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; !stop.Load(); i++ {
			tmp := filepath.Join(root, "tmp")
			os.RemoveAll(tmp)
			// Flip x.png between a regular file and a link out of the root.
			if i%2 == 0 {
				os.Symlink("../secret.png", tmp)
			} else {
				write(tmp, good)
			}
			os.Rename(tmp, filepath.Join(root, "x.png"))
			// Flip dir between a real directory and a link to secretDir.
			os.RemoveAll(tmp)
			if i%2 == 0 {
				os.Symlink(secretDir, tmp)
			} else {
				os.Mkdir(tmp, 0o755)
				write(filepath.Join(tmp, "x.png"), good)
			}
			os.RemoveAll(filepath.Join(root, "dir"))
			os.Rename(tmp, filepath.Join(root, "dir"))
		}
	}()

	o := mustNew(t, Config{Root: root})
	opened := 0
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		for _, src := range []string{"x.png", "dir/x.png"} {
			m, err := o.Open(context.Background(), src, Hint{ContentType: "image/png"})
			if err != nil {
				continue
			}
			got, _ := readAllNoFail(m)
			m.Close()
			opened++
			if bytes.Contains(got, []byte("SECRET")) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("Open(%s) read the secret from outside the root", src)
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	if opened == 0 {
		t.Fatal("no Open succeeded during the race; the test proved nothing")
	}
	t.Logf("%d opens during the race, none escaped", opened)
}

func readAllNoFail(m *Media) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(m)
	return b.Bytes(), err
}

// TestLocalFileChangesWhileOpen: Size is what the upload URL is promised, so
// Read must deliver exactly that many bytes even when the file grows or
// shrinks underneath it.
func TestLocalFileChangesWhileOpen(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	png := pngFile(t)
	o := mustNew(t, Config{Root: root})
	p := filepath.Join(root, "live.png")

	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := o.Open(context.Background(), "live.png", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(bytes.Repeat([]byte("more"), 1000))
	f.Close()
	if got := readAll(t, m); !bytes.Equal(got, png) {
		t.Errorf("grown file: read %d bytes, want the %d promised", len(got), len(png))
	}
	m.Close()

	m, err = o.Open(context.Background(), "live.png", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := os.Truncate(p, 10); err != nil {
		t.Fatal(err)
	}
	got, err := readAllNoFail(m)
	if len(got) != 10 || !errors.Is(err, io.ErrUnexpectedEOF) || IsPermanent(err) {
		t.Fatalf("shrunk file: read %d bytes, %v; want 10 bytes and a transient unexpected EOF", len(got), err)
	}
	if e := asError(t, err); e.Op != "read" || !strings.Contains(err.Error(), "ended after 10 of") {
		t.Errorf("error %q", err)
	}
}

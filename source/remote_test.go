package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// loopback is the allowlist entry that lets tests reach httptest servers.
var loopback = []string{"127.0.0.1"}

func TestRedirects(t *testing.T) {
	t.Parallel()
	body := pngFile(t)
	mux := http.NewServeMux()
	srv, port := serve(t, mux)
	mux.Handle("/final.png", serveBytes(body, "", true))
	// /hop/N redirects to /hop/N-1, and /hop/0 to the final file.
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		next := "/final.png"
		if n > 0 {
			next = fmt.Sprintf("/hop/%d", n-1)
		}
		http.Redirect(w, r, next, http.StatusFound)
	})
	redirectTo := func(path, location string) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Location", location)
			w.WriteHeader(http.StatusMovedPermanently)
		})
	}
	redirectTo("/to-localhost", "http://localhost:"+port+"/final.png")
	redirectTo("/to-ipv6-loopback", "http://[::1]:"+port+"/final.png")
	redirectTo("/to-rebound-name", "http://rebound.test:"+port+"/final.png")
	redirectTo("/to-metadata", "http://169.254.169.254/latest/meta-data/iam/")
	redirectTo("/to-ftp", "ftp://files.example.com/a.png")
	redirectTo("/to-file", "file:///etc/passwd")
	redirectTo("/to-gopher", "gopher://example.com/")
	redirectTo("/to-allowed", srv.URL+"/final.png")

	res := fakeResolver(map[string][]netip.Addr{"rebound.test": addrs("127.0.0.1")})
	tests := []struct {
		path         string
		maxRedirects int
		kind         error // nil: success
	}{
		{"/hop/0", 0, nil},
		{"/hop/4", 0, nil}, // five redirects: the default limit
		{"/hop/5", 0, errRedirects},
		{"/hop/2", 3, nil},
		{"/hop/3", 3, errRedirects},
		{"/hop/0", -1, errRedirects},
		{"/to-allowed", 0, nil},
		{"/to-localhost", 0, errNotPublic},
		{"/to-ipv6-loopback", 0, errNotPublic},
		{"/to-rebound-name", 0, errNotPublic},
		{"/to-metadata", 0, errNotPublic},
		{"/to-ftp", 0, errBadSource},
		{"/to-file", 0, errBadSource},
		{"/to-gopher", 0, errBadSource},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/max=%d", tt.path, tt.maxRedirects), func(t *testing.T) {
			t.Parallel()
			o := mustNew(t, Config{AllowedHosts: loopback, MaxRedirects: tt.maxRedirects, Resolver: res, Timeout: 5 * time.Second})
			m, err := o.Open(context.Background(), srv.URL+tt.path, Hint{})
			if tt.kind == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				defer m.Close()
				if got := readAll(t, m); !bytes.Equal(got, body) {
					t.Fatalf("read %d bytes, want the %d-byte final file", len(got), len(body))
				}
				if m.Name != "final.png" {
					t.Errorf("Name = %q", m.Name)
				}
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("Open succeeded; want %v", tt.kind)
			}
			if !errors.Is(err, tt.kind) || !IsPermanent(err) {
				t.Fatalf("Open = %v (permanent %v); want permanent %v", err, IsPermanent(err), tt.kind)
			}
		})
	}
}

func TestStatusClassification(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/status/"))
		w.WriteHeader(code)
		io.WriteString(w, "<html>nope</html>")
	}))
	o := mustNew(t, Config{AllowedHosts: loopback})
	tests := []struct {
		code      int
		permanent bool
	}{
		{400, true}, {401, true}, {403, true}, {404, true}, {410, true}, {422, true},
		{408, false}, {425, false}, {429, false},
		{500, false}, {502, false}, {503, false}, {504, false},
		{409, false}, // other 4xx: the retry budget decides
		{304, false}, // a redirect status without Location is not followed
	}
	for _, tt := range tests {
		src := fmt.Sprintf("%s/status/%d?sig=SECRET", srv.URL, tt.code)
		_, err := o.Open(context.Background(), src, Hint{})
		if err == nil {
			t.Errorf("status %d: Open succeeded", tt.code)
			continue
		}
		e := asError(t, err)
		if e.Status != tt.code || e.Permanent != tt.permanent || IsPermanent(err) != tt.permanent {
			t.Errorf("status %d: Status %d, Permanent %v, IsPermanent %v; want %d, %v", tt.code, e.Status, e.Permanent, IsPermanent(err), tt.code, tt.permanent)
		}
		want := fmt.Sprintf("open source %s/status/%d: %d %s", srv.URL, tt.code, tt.code, http.StatusText(tt.code))
		if err.Error() != want {
			t.Errorf("status %d: error %q, want %q", tt.code, err, want)
		}
	}
}

func TestHeaderTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	stall := func(r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}
	head := make([]byte, sniffLen+100)
	mux := http.NewServeMux()
	srv, _ := serve(t, mux)
	mux.HandleFunc("/stall-headers", func(w http.ResponseWriter, r *http.Request) { stall(r) })
	mux.HandleFunc("/stall-body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		stall(r)
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		// The head at once, then a tail slower than Timeout: the timeout
		// must not cut a stream that is making progress.
		w.Header().Set("Content-Length", strconv.Itoa(len(head)+30))
		w.Write(head)
		for range 3 {
			w.(http.Flusher).Flush()
			time.Sleep(150 * time.Millisecond)
			w.Write(bytes.Repeat([]byte("x"), 10))
		}
	})
	o := mustNew(t, Config{AllowedHosts: loopback, Timeout: 200 * time.Millisecond})

	for _, path := range []string{"/stall-headers", "/stall-body"} {
		start := time.Now()
		// The caller's deadline is a safety net; the 200ms Timeout must win.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err := o.Open(ctx, srv.URL+path, Hint{})
		cancel()
		if err == nil || IsPermanent(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Open(%s) = %v; want a transient timeout", path, err)
		}
		if !strings.Contains(err.Error(), "no response within 200ms") {
			t.Errorf("Open(%s): error %q does not say what timed out", path, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Open(%s) took %v with a 200ms timeout", path, d)
		}
	}

	m, err := o.Open(context.Background(), srv.URL+"/slow-body", Hint{})
	if err != nil {
		t.Fatalf("Open(slow-body): %v", err)
	}
	defer m.Close()
	if got := readAll(t, m); len(got) != len(head)+30 {
		t.Fatalf("read %d bytes, want %d", len(got), len(head)+30)
	}
}

func TestContextCancelStopsStream(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "1000000")
		w.Write(make([]byte, 5000))
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	}))
	o := mustNew(t, Config{AllowedHosts: loopback})
	// The deadline only keeps a broken build from hanging the test; the
	// test cancels long before it.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := o.Open(ctx, srv.URL+"/big.mp4", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, err := io.ReadFull(m, make([]byte, 5000)); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = io.ReadAll(m)
	if err == nil || IsPermanent(err) || !errors.Is(err, context.Canceled) {
		t.Fatalf("read after cancel = %v; want a transient error wrapping context.Canceled", err)
	}
	if e := asError(t, err); e.Op != "read" {
		t.Errorf("Op = %q, want read", e.Op)
	}
}

func TestTruncatedBody(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100000")
		w.Write(make([]byte, 10000))
		w.(http.Flusher).Flush()
		// Drop the connection mid-body.
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	}))
	o := mustNew(t, Config{AllowedHosts: loopback})
	m, err := o.Open(context.Background(), srv.URL+"/cut.mp4", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n, err := io.Copy(io.Discard, m)
	if err == nil || IsPermanent(err) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("copy = %d, %v; want a transient unexpected EOF", n, err)
	}
}

func TestTransportErrorsAreTransient(t *testing.T) {
	t.Parallel()
	srv, _ := serve(t, http.NotFoundHandler())
	closed := srv.URL
	srv.Close() // nothing listens on this port any more
	o := mustNew(t, Config{AllowedHosts: loopback})
	_, err := o.Open(context.Background(), closed+"/a.jpg", Hint{})
	if err == nil || IsPermanent(err) {
		t.Fatalf("Open(closed port) = %v; want a transient error", err)
	}
	if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("error %q does not say the connection was refused", err)
	}
}

func TestSpool(t *testing.T) {
	t.Parallel()
	body := append(jpegFile(t), bytes.Repeat([]byte{0x5a}, 100_000)...)
	_, port := serve(t, serveBytes(body, "image/jpeg", false))
	src := "http://127.0.0.1:" + port + "/upload/photo.jpg"

	tests := []struct {
		name  string
		limit int64
		ok    bool
	}{
		{"default limit", 0, true},
		{"exactly the limit", int64(len(body)), true},
		{"one byte over", int64(len(body)) - 1, false},
		{"far over", 1000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			o := mustNew(t, Config{AllowedHosts: loopback, SpoolDir: dir, MaxSpoolBytes: tt.limit})
			m, err := o.Open(context.Background(), src, Hint{})
			if !tt.ok {
				if err == nil {
					m.Close()
					t.Fatal("Open succeeded over the spool limit")
				}
				if !errors.Is(err, errTooLarge) || !IsPermanent(err) {
					t.Fatalf("Open = %v; want a permanent too-large error", err)
				}
				assertEmptyDir(t, dir)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.Size != int64(len(body)) {
				t.Errorf("Size = %d, want %d", m.Size, len(body))
			}
			if m.ContentType != "image/jpeg" || m.Name != "photo.jpg" {
				t.Errorf("ContentType %q, Name %q", m.ContentType, m.Name)
			}
			if runtime.GOOS == "linux" {
				// Unlinked while open, so a killed worker leaves nothing.
				assertEmptyDir(t, dir)
			}
			if got := readAll(t, m); !bytes.Equal(got, body) {
				t.Errorf("read %d bytes that differ from the %d sent", len(got), len(body))
			}
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if err := m.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			assertEmptyDir(t, dir)

			// Close before the end releases the descriptor too.
			m, err = o.Open(context.Background(), src, Hint{})
			if err != nil {
				t.Fatal(err)
			}
			m.Close()
			if _, err := m.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) {
				t.Errorf("Read after Close = %v; want the spool file closed", err)
			}
			assertEmptyDir(t, dir)
		})
	}
}

func TestEmptyBodyRefused(t *testing.T) {
	t.Parallel()
	for _, withLength := range []bool{true, false} {
		dir := t.TempDir()
		_, port := serve(t, serveBytes(nil, "image/png", withLength))
		o := mustNew(t, Config{AllowedHosts: loopback, SpoolDir: dir})
		_, err := o.Open(context.Background(), "http://127.0.0.1:"+port+"/a.png", Hint{})
		if !errors.Is(err, errEmpty) || !IsPermanent(err) {
			t.Errorf("length %v: Open = %v; want a permanent empty error", withLength, err)
		}
		assertEmptyDir(t, dir)
	}
}

func assertEmptyDir(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind in spool dir: %s", e.Name())
	}
}

package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

func TestIsPermanent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"foreign error", errors.New("boom"), false},
		{"context canceled", context.Canceled, false},
		{"bare permanent kind, not wrapped in *Error", errNotFound, false},
		{"bad source", newError("open", "x", failf(errBadSource, nil, "x")), true},
		{"outside root", newError("open", "x", failf(errOutsideRoot, nil, "x")), true},
		{"not found", newError("open", "x", failf(errNotFound, nil, "x")), true},
		{"not regular", newError("open", "x", failf(errNotRegular, nil, "x")), true},
		{"refused address", newError("open", "x", &addressError{host: "h", class: "loopback"}), true},
		{"redirect cap", newError("open", "x", failf(errRedirects, nil, "x")), true},
		{"too large", newError("open", "x", failf(errTooLarge, nil, "x")), true},
		{"empty", newError("open", "x", failf(errEmpty, nil, "x")), true},
		{"wrapped by a caller", fmt.Errorf("media:upload: %w", newError("open", "x", failf(errNotFound, nil, "x"))), true},
		{"timeout", newError("open", "x", context.DeadlineExceeded), false},
		{"permission denied", newError("open", "x", os.ErrPermission), false},
		{"unexpected EOF", newError("read", "x", io.ErrUnexpectedEOF), false},
	}
	for code, want := range map[int]bool{
		400: true, 401: true, 403: true, 404: true, 410: true, 422: true,
		405: false, 408: false, 409: false, 425: false, 429: false,
		500: false, 501: false, 502: false, 503: false, 504: false,
	} {
		tests = append(tests, struct {
			name string
			err  error
			want bool
		}{fmt.Sprintf("HTTP %d", code), newError("open", "x", statusError(code)), want})
	}
	for _, tt := range tests {
		if got := IsPermanent(tt.err); got != tt.want {
			t.Errorf("%s: IsPermanent(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"https://bucket.s3.amazonaws.com/a.jpg?X-Amz-Signature=SECRET&X-Amz-Credential=SECRET": "https://bucket.s3.amazonaws.com/a.jpg",
		"https://user:SECRET@host/a.jpg":                       "https://host/a.jpg",
		"https://user:SECRET@host":                             "https://host",
		"https://host/a.jpg#SECRET":                            "https://host/a.jpg",
		"https://host?SECRET":                                  "https://host",
		"http://[::1]:8080/p/q.mp4?token=SECRET":               "http://[::1]:8080/p/q.mp4",
		"https://u:p@SECRET@host/x":                            "https://host/x", // the last @ ends userinfo
		"https://us er:SE CRET@ho st/%zz?sig=SECRET":           "https://ho st/%zz",
		"HTTPS://user:SECRET@Host/A.JPG?SECRET":                "HTTPS://Host/A.JPG",
		"ftp://user:SECRET@files/x?SECRET":                     "ftp://files/x",
		"//user:SECRET@host/x?SECRET":                          "//host/x",
		"file:///srv/media/a.jpg?SECRET":                       "file:///srv/media/a.jpg",
		"/srv/media/a.jpg":                                     "/srv/media/a.jpg",
		"relative/b.png":                                       "relative/b.png",
		"a\nforged log line":                                   "a\ufffdforged log line",
		"https://host/a.jpg?sig=SECRET\nhttps://x?SECRET=1#ab": "https://host/a.jpg",
	}
	for in, want := range tests {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		`failed to parse Location header "https://cdn/a.jpg?sig=SECRET": invalid`:      `failed to parse Location header "https://cdn/a.jpg": invalid`,
		`failed to parse Location header "/a.jpg?sig=SECRET\"x\"": invalid`:            `failed to parse Location header "/a.jpg": invalid`,
		`Get "https://user:SECRET@host/a.jpg?x=SECRET": EOF`:                           `Get "https://host/a.jpg": EOF`,
		`dial tcp 10.0.0.1:80: connect: connection refused`:                            `dial tcp 10.0.0.1:80: connect: connection refused`,
		"redirect to https://user:SECRET@host/b?SECRET refused, then https://c#SECRET": "redirect to https://host/b refused, then https://c",
	}
	for in, want := range tests {
		if got := scrub(in); got != want {
			t.Errorf("scrub(%q)\n got %q\nwant %q", in, got, want)
		}
	}
}

// TestErrorsKeepSecrets drives every kind of failure with a URL that carries
// credentials in its userinfo and query, and checks that no error text, at
// any depth of the wrap chain, repeats them.
func TestErrorsKeepSecrets(t *testing.T) {
	t.Parallel()
	const secret = "SECRET"
	mux := http.NewServeMux()
	srv, port := serve(t, mux)
	mux.HandleFunc("/404", http.NotFound)
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() })
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop?sig="+secret, http.StatusFound)
	})
	mux.HandleFunc("/bad-location", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "http://%zz/x?sig="+secret)
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/to-ftp", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "ftp://user:"+secret+"@files/x?sig="+secret)
		w.WriteHeader(http.StatusFound)
	})
	mux.HandleFunc("/to-private", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://private.test/x?sig="+secret, http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, 10_000)) // no Content-Length: spooled, over the cap
	})
	closed, _ := serve(t, http.NotFoundHandler())
	closed.Close()

	res := fakeResolver(map[string][]netip.Addr{"private.test": addrs("10.0.0.7")})
	o := mustNew(t, Config{
		AllowedHosts: loopback, Resolver: res, Timeout: 300 * time.Millisecond,
		MaxSpoolBytes: 1000, SpoolDir: t.TempDir(), MaxRedirects: 2,
	})
	cred := "user:" + secret + "@"
	q := "?X-Amz-Signature=" + secret + "&token=" + secret + "#" + secret
	sources := []string{
		"http://" + cred + "127.0.0.1:" + port + "/404" + q,
		"http://" + cred + "127.0.0.1:" + port + "/stall" + q,
		"http://" + cred + "127.0.0.1:" + port + "/loop" + q,
		"http://" + cred + "127.0.0.1:" + port + "/bad-location" + q,
		"http://" + cred + "127.0.0.1:" + port + "/to-ftp" + q,
		"http://" + cred + "127.0.0.1:" + port + "/to-private" + q,
		"http://" + cred + "127.0.0.1:" + port + "/big" + q,
		strings.Replace(closed.URL, "://", "://"+cred, 1) + "/x" + q,
		"http://" + cred + "10.0.0.1/x" + q,
		"http://" + cred + "private.test/x" + q,
		"http://" + cred + "host:99999/x" + q,
		"http://" + cred + "host/%zz" + q,
		"gopher://" + cred + "host/x" + q,
	}
	_ = srv
	for _, src := range sources {
		for _, op := range []string{"check", "open"} {
			var err error
			if op == "check" {
				err = o.Check(src)
			} else {
				var m *Media
				m, err = o.Open(context.Background(), src, Hint{})
				if err == nil {
					m.Close()
				}
			}
			if err == nil {
				if op == "open" {
					t.Errorf("Open(%s) succeeded; every source here should fail", redact(src))
				}
				continue
			}
			t.Logf("%s: %v", op, err)
			for e := err; e != nil; e = errors.Unwrap(e) {
				if strings.Contains(e.Error(), secret) {
					t.Errorf("%s(%s): error chain leaks the secret: %T %q", op, redact(src), e, e.Error())
				}
			}
			if e := asError(t, err); strings.Contains(e.Source, secret) || e.Op != op {
				t.Errorf("%s: Op %q, Source %q", op, e.Op, e.Source)
			}
		}
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	e := newError("open", "https://host/a.jpg?sig=x", statusError(404))
	if got, want := e.Error(), "open source https://host/a.jpg: 404 Not Found"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if e.Status != 404 || !e.Permanent {
		t.Errorf("Status %d, Permanent %v", e.Status, e.Permanent)
	}
	if got := statusError(599).Error(); got != "HTTP status 599" {
		t.Errorf("statusError(599) = %q", got)
	}
}

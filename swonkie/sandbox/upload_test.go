package sandbox_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// withQuery returns u with one query parameter changed (or removed when
// v is empty).
func withQuery(t *testing.T, u, k, v string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	if v == "" {
		q.Del(k)
	} else {
		q.Set(k, v)
	}
	p.RawQuery = q.Encode()
	return p.String()
}

func TestUploadRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	png := testmedia.PNG(2, 2, 0)
	type upload struct {
		url    string
		header map[string]string
		body   io.Reader // nil: png
		length int64     // -1: chunked
	}
	tests := []struct {
		name string
		mk   func(c created) upload
		want int
	}{
		{"good", func(c created) upload { return upload{url: c.UploadURL} }, http.StatusCreated},
		{"no blob type", func(c created) upload {
			return upload{url: c.UploadURL, header: map[string]string{"x-ms-blob-type": ""}}
		}, http.StatusForbidden},
		{"append blob", func(c created) upload {
			return upload{url: c.UploadURL, header: map[string]string{"x-ms-blob-type": "AppendBlob"}}
		}, http.StatusForbidden},
		{"no signature", func(c created) upload { return upload{url: withQuery(t, c.UploadURL, "sig", "")} }, http.StatusForbidden},
		{"bad signature", func(c created) upload {
			return upload{url: withQuery(t, c.UploadURL, "sig", strings.Repeat("ab", 32))}
		}, http.StatusForbidden},
		{"extended expiry", func(c created) upload {
			return upload{url: withQuery(t, c.UploadURL, "se", time.Now().Add(24*time.Hour).UTC().Format(time.RFC3339))}
		}, http.StatusForbidden},
		{"read permission", func(c created) upload { return upload{url: withQuery(t, c.UploadURL, "sp", "r")} }, http.StatusForbidden},
		{"other media's id", func(c created) upload {
			other := e.createMedia(nil)
			p, _ := url.Parse(c.UploadURL)
			o, _ := url.Parse(other.UploadURL)
			p.Path, p.RawPath = o.Path, o.RawPath
			return upload{url: p.String()}
		}, http.StatusForbidden},
		{"chunked", func(c created) upload {
			return upload{url: c.UploadURL, body: io.MultiReader(bytes.NewReader(png)), length: -1}
		}, http.StatusLengthRequired},
		{"api id sent to storage", func(c created) upload {
			return upload{url: c.UploadURL, header: map[string]string{"X-API-ID": testID}}
		}, http.StatusBadRequest},
		{"api key sent to storage", func(c created) upload {
			return upload{url: c.UploadURL, header: map[string]string{"X-API-KEY": testKey}}
		}, http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.createMedia(nil)
			u := tt.mk(c)
			var body io.Reader = bytes.NewReader(png)
			if u.body != nil {
				body = u.body
			}
			r, err := http.NewRequest(http.MethodPut, u.url, body)
			if err != nil {
				t.Fatal(err)
			}
			r.ContentLength = int64(len(png))
			if u.length < 0 {
				r.ContentLength = -1
			}
			r.Header.Set("x-ms-blob-type", "BlockBlob")
			for k, v := range u.header {
				if v == "" {
					r.Header.Del(k)
				} else {
					r.Header.Set(k, v)
				}
			}
			res, err := e.hc.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			got := resp{status: res.StatusCode, header: res.Header, body: raw}
			expect(t, got, tt.want)
			if tt.want >= 400 {
				got.errorBody(t)
				if sig := (func() string { p, _ := url.Parse(c.UploadURL); return p.Query().Get("sig") })(); strings.Contains(got.String(), sig) {
					t.Fatalf("refusal echoes the signature: %s", raw)
				}
			}
		})
	}
	st := e.s.Stats()
	if len(st.Violations) != 2 || st.Violations[0].Kind != sandbox.ViolationCredentialsToStorage {
		t.Fatalf("violations %+v, want the two credential leaks", st.Violations)
	}
	if st.Media.Uploaded != 1 || st.Media.Uploads != 1 {
		t.Fatalf("uploaded %d media in %d uploads, want 1 and 1", st.Media.Uploaded, st.Media.Uploads)
	}
}

func TestUploadURLExpires(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{UploadWindow: 15 * time.Minute})
	c := e.createMedia(nil)
	e.advance(14 * time.Minute)
	expect(t, e.upload(c.UploadURL, testmedia.PNG(2, 2, 0), nil), http.StatusCreated)
	e.advance(2 * time.Minute)
	r := e.upload(c.UploadURL, testmedia.PNG(2, 2, 0), nil)
	expect(t, r, http.StatusForbidden)
	if !strings.Contains(r.errorBody(t).Message, "expired") {
		t.Fatalf("expiry refusal does not say so: %s", r.body)
	}
	// What was uploaded in time can still be confirmed.
	expect(t, e.confirm(c.MediaID), http.StatusOK)
}

func TestUploadStateRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	first, second := testmedia.PNG(2, 2, 0), testmedia.PNG(3, 3, 0)

	c := e.createMedia(nil)
	expect(t, e.upload(c.UploadURL, first, nil), http.StatusCreated)
	r := e.upload(c.UploadURL, second, nil)
	expect(t, r, http.StatusCreated)
	if r.header.Get("ETag") == "" {
		t.Fatal("upload answer has no ETag")
	}
	info, _ := e.s.Media(c.MediaID)
	sum := sha256.Sum256(second)
	if info.Uploads != 2 || info.Bytes != int64(len(second)) || info.SHA256 != hex.EncodeToString(sum[:]) || info.ContentType != "image/png" {
		t.Fatalf("re-upload did not overwrite: %+v", info)
	}
	expect(t, e.confirm(c.MediaID), http.StatusOK)
	expect(t, e.upload(c.UploadURL, first, nil), http.StatusConflict)

	d := e.createMedia(nil)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(d.MediaID)}), http.StatusNoContent)
	expect(t, e.upload(d.UploadURL, first, nil), http.StatusNotFound)
}

func TestUploadURLShape(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	for range 4 {
		c := e.createMedia(nil)
		u, err := url.Parse(c.UploadURL)
		if err != nil {
			t.Fatal(err)
		}
		if u.Scheme+"://"+u.Host != e.r.URL {
			t.Fatalf("upload URL %s is not on the server the client reached (%s)", u.Redacted(), e.r.URL)
		}
		if want := "/blob/" + url.PathEscape(c.MediaID); u.EscapedPath() != want {
			t.Fatalf("upload path %s, want %s", u.EscapedPath(), want)
		}
		se, err := time.Parse(time.RFC3339, u.Query().Get("se"))
		if err != nil || se.Before(time.Now().Add(14*time.Minute)) || se.After(time.Now().Add(16*time.Minute)) {
			t.Fatalf("se %q is not about 15 minutes ahead", u.Query().Get("se"))
		}
		if len(u.Query().Get("sig")) != 64 {
			t.Fatalf("sig is not a hex SHA-256")
		}
	}
	// Two servers with the same seed hand out different upload URLs: the
	// seed predicts neither the id (its instance part) nor the signature.
	a := start(t, sandbox.Options{Seed: 3}).createMedia(nil)
	b := start(t, sandbox.Options{Seed: 3}).createMedia(nil)
	sig := func(s string) string { u, _ := url.Parse(s); return u.Query().Get("sig") }
	if sig(a.UploadURL) == sig(b.UploadURL) {
		t.Fatalf("same seed: the signatures of %s and %s match", a.MediaID, b.MediaID)
	}
}

// TestUploadLargeIsStreamed: a large upload goes through and its declared
// size is checked against what was counted.
func TestUploadLargeIsStreamed(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	c := e.createMedia(map[string]any{"name": "big.mp4", "destinationType": "POST_MEDIA", "fileSize": 64 << 20})
	// A real video whose media data is padded to 64 MiB: the sandbox reads
	// past it to the moov at the end.
	f, err := os.Open(mediaFile(t, "big.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _ := http.NewRequest(http.MethodPut, c.UploadURL, f)
	r.ContentLength = 64 << 20
	r.Header.Set("x-ms-blob-type", "BlockBlob")
	res, err := e.hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("status %d", res.StatusCode)
	}
	expect(t, e.confirm(c.MediaID), http.StatusOK)
	if st := e.mediaStatus(c.MediaID); st != swonkie.MediaSuccess {
		info, _ := e.s.Media(c.MediaID)
		t.Fatalf("64 MiB video with the right size is %s: %+v", st, info)
	}
	if info, _ := e.s.Media(c.MediaID); info.Probe == nil || info.Probe.Seconds() != 2 || info.Bytes != 64<<20 {
		t.Fatalf("sandbox saw %+v", info)
	}
}

// TestUploadLengthRules sends raw requests: net/http's client always sets
// Content-Length for a known size, so the missing and the huge ones need
// writing by hand. Both are refused on the headers alone.
func TestUploadLengthRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	tests := []struct {
		name, length string
		want         int
	}{
		{"no Content-Length", "", http.StatusLengthRequired},
		{"over 5000 MiB", "Content-Length: 5242880001\r\n", http.StatusRequestEntityTooLarge},
		{"exactly 5000 MiB is allowed to start", "Content-Length: 5242880000\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := e.createMedia(nil)
			u, _ := url.Parse(c.UploadURL)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			fmt.Fprintf(conn, "PUT %s HTTP/1.1\r\nHost: %s\r\nx-ms-blob-type: BlockBlob\r\n%sConnection: close\r\n\r\n", u.RequestURI(), u.Host, tt.length)
			_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
			res, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if tt.want == 0 {
				if err == nil {
					t.Fatalf("a 5000 MiB upload was answered (%d) before its body came", res.StatusCode)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != tt.want {
				t.Fatalf("status %d, want %d", res.StatusCode, tt.want)
			}
		})
	}
	if st := e.s.Stats(); st.Media.Uploads != 0 {
		t.Fatalf("refused uploads were stored: %+v", st.Media)
	}
}

package swonkie_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// TestRedirectsAreRefused: an API that redirects elsewhere must not get
// the credentials sent there; the refusal names the call and is permanent.
func TestRedirectsAreRefused(t *testing.T) {
	t.Parallel()
	for _, status := range []int{301, 302, 303, 307, 308} {
		for _, own := range []bool{false, true} {
			t.Run(http.StatusText(status)+map[bool]string{false: "", true: " own client"}[own], func(t *testing.T) {
				t.Parallel()
				var elsewhere atomic.Int64
				target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					elsewhere.Add(1)
					if r.Header.Get("X-API-KEY") != "" || r.Header.Get("X-API-ID") != "" {
						t.Errorf("redirect target got credentials on %s %s", r.Method, r.URL.Path)
					}
					w.WriteHeader(http.StatusOK)
					_, _ = w.Write([]byte(`{"mediaId":"m","uploadUrl":"https://x/y","id":"p","status":"SUCCESS"}`))
				}))
				t.Cleanup(target.Close)
				api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					// The Location carries what a hostile server might want
					// to see again: the key must not reach it anyway.
					http.Redirect(w, r, target.URL+"/steal?k="+apiKey, status)
				}))
				t.Cleanup(api.Close)
				c := newClient(t, api.URL+"/v2", func(cfg *swonkie.Config) {
					if own {
						// A caller's client that would follow redirects.
						cfg.HTTPClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
					}
				})
				ctx := context.Background()
				calls := map[string]func() error{
					"POST /media": func() error {
						_, err := c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png"})
						return err
					},
					"GET /media/{id}": func() error { _, err := c.GetMedia(ctx, "m"); return err },
					"POST /posts":     func() error { _, err := c.CreatePost(ctx, swonkie.PostInput{}); return err },
					"DELETE /posts/{id}": func() error {
						return c.DeletePost(ctx, "p")
					},
				}
				for op, f := range calls {
					err := f()
					assertClean(t, op, err)
					want := "swonkie " + op + ": " + http.StatusText(status)
					if !strings.Contains(err.Error(), op) || !strings.Contains(err.Error(), "redirect to "+target.URL+"/… refused") {
						t.Errorf("%s: error %q does not say %q and name the refused target", op, err, want)
					}
					if !swonkie.IsPermanent(err) || swonkie.IsTransient(err) || swonkie.StatusCode(err) != status {
						t.Errorf("%s: %v: permanent=%v transient=%v status=%d", op, err, swonkie.IsPermanent(err), swonkie.IsTransient(err), swonkie.StatusCode(err))
					}
				}
				if n := elsewhere.Load(); n != 0 {
					t.Fatalf("the redirect target got %d requests", n)
				}
			})
		}
	}
}

// TestUploadRedirectIsRefused: storage's redirects are not followed either.
func TestUploadRedirectIsRefused(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(target.Close)
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/blob", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(storage.Close)
	c := newClient(t, storage.URL+"/v2", func(cfg *swonkie.Config) { cfg.UploadResponseTimeout = 5 * time.Second })
	err := c.UploadMedia(context.Background(), storage.URL+"/blob?sig=secretsignature123", strings.NewReader("abc"), 3, "")
	assertClean(t, "upload redirect", err, "secretsignature123")
	if !strings.Contains(err.Error(), "PUT {uploadUrl}") || !strings.Contains(err.Error(), "refused") || !swonkie.IsPermanent(err) {
		t.Fatalf("upload redirect: %v", err)
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the redirect target got the upload")
	}
}

package swonkie_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// echoServer repeats the caller's credentials and URL back in every form
// an error body can take, as a badly behaved server or proxy might.
func echoServer(t *testing.T, status int, shape string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, key := r.Header.Get("X-API-ID"), r.Header.Get("X-API-KEY")
		full := "http://" + r.Host + r.URL.RequestURI()
		w.Header().Set("Retry-After", "1")
		switch shape {
		case "json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"statusCode":%d,"message":"bad credentials %s/%s for %s","errors":[{"field":"%s","message":"key %s"},"%s"]}`,
				status, id, key, full, key, key, id)
		case "message list":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"message":["id %s","key %s","url %s"]}`, id, key, full)
		case "error field":
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":"key=%s id=%s url=%s"}`, key, id, full)
		case "text":
			w.WriteHeader(status)
			fmt.Fprintf(w, "denied: X-API-KEY: %s X-API-ID: %s at %s", key, id, full)
		}
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// assertClean fails when err's text holds a secret.
func assertClean(t *testing.T, what string, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, form := range []string{err.Error(), fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%s", err)} {
		for _, s := range append([]string{apiID, apiKey}, secrets...) {
			if s != "" && strings.Contains(form, s) {
				t.Fatalf("%s: error text holds a secret %q: %s", what, s, form)
			}
		}
	}
}

func sigOf(t *testing.T, uploadURL string) string {
	t.Helper()
	u, err := url.Parse(uploadURL)
	if err != nil {
		t.Fatal(err)
	}
	sig := u.Query().Get("sig")
	if sig == "" {
		t.Fatal("upload URL has no signature")
	}
	return sig
}

func TestSecretsNeverInErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("wrong credentials", func(t *testing.T) {
		t.Parallel()
		r := sandbox.Start(t, sandbox.Options{APIID: "someone-else", APIKey: "not-ours"})
		c := newClient(t, r.BaseURL)
		_, err := c.ListProfiles(ctx)
		if swonkie.StatusCode(err) != 401 || !swonkie.IsPermanent(err) {
			t.Fatalf("wrong credentials: %v", err)
		}
		assertClean(t, "401", err)
	})

	faulty := func(t *testing.T, plan sandbox.FaultPlan, opts ...func(*sandbox.Options)) *fixture {
		o := sandbox.Options{Faults: plan}
		for _, f := range opts {
			f(&o)
		}
		return newFixture(t, o, func(c *swonkie.Config) { c.Timeout = 100 * time.Millisecond })
	}
	for _, tt := range []struct {
		name string
		plan sandbox.FaultPlan
		opt  func(*sandbox.Options)
	}{
		{"5xx", sandbox.FaultPlan{"*": {Error5xx: 1}}, nil},
		{"429", sandbox.FaultPlan{"*": {RateLimit: 1}}, nil},
		{"lost reply", sandbox.FaultPlan{"*": {LostReply: 1}}, nil},
		{"reset", sandbox.FaultPlan{"*": {Reset: 1}}, nil},
		{"timeout", nil, func(o *sandbox.Options) { o.Latency = time.Second }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var opts []func(*sandbox.Options)
			if tt.opt != nil {
				opts = append(opts, tt.opt)
			}
			f := faulty(t, tt.plan, opts...)
			calls := callsOn(f.c, target{media: "TWVk/aWE=", post: "UG9z/dA==", profile: "x"})
			// The upload gets a finite body here; stalled ones are tested
			// with contexts.
			m, err := newClient(t, f.r.BaseURL).CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a"})
			upload := f.r.URL + "/blob/TWVk%2FaWE=?sp=w&se=2099-01-01T00:00:00Z&sig=" + strings.Repeat("ab", 32)
			if err == nil {
				upload = m.UploadURL
			}
			calls["UploadMedia"] = func(ctx context.Context) error {
				return f.c.UploadMedia(ctx, upload, strings.NewReader("abc"), 3, "")
			}
			checked := 0
			for name, call := range calls {
				ctx, cancel := context.WithTimeout(ctx, time.Second)
				err := call(ctx)
				cancel()
				if err == nil {
					continue // let through (a delete's 404, an upload under API latency)
				}
				checked++
				assertClean(t, name, err, sigOf(t, upload))
			}
			if checked < 13 {
				t.Fatalf("only %d of 15 calls failed; the plan is not doing its job", checked)
			}
		})
	}

	t.Run("server echoes the credentials", func(t *testing.T) {
		t.Parallel()
		for _, shape := range []string{"json", "message list", "error field", "text"} {
			for _, status := range []int{400, 401, 403, 429, 500} {
				base := echoServer(t, status, shape)
				c := newClient(t, base+"/v2")
				_, err := c.ListPosts(ctx, swonkie.ListPostsParams{Search: "x"})
				assertClean(t, fmt.Sprintf("%s %d", shape, status), err)
				_, err = c.CreatePost(ctx, swonkie.PostInput{Type: swonkie.PostStatus})
				assertClean(t, fmt.Sprintf("%s %d create", shape, status), err)
				_, err = c.ValidatePost(ctx, "UG9z/dA==")
				if status == 400 && err == nil {
					continue // a 400 without a verdict is an error; with garbage it may read as one
				}
				assertClean(t, fmt.Sprintf("%s %d validate", shape, status), err)
			}
		}
	})

	t.Run("upload to an expired URL", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Options{})
		m, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png"})
		if err != nil {
			t.Fatal(err)
		}
		f.r.Advance(t, 16*time.Minute)
		err = f.c.UploadMedia(ctx, m.UploadURL, strings.NewReader("abc"), 3, "")
		if swonkie.StatusCode(err) != 403 {
			t.Fatalf("upload after expiry: %v", err)
		}
		assertClean(t, "expired upload", err, sigOf(t, m.UploadURL), m.UploadURL)
	})

	t.Run("upload failures", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, sandbox.Options{Faults: sandbox.FaultPlan{"PUT {uploadUrl}": {Reset: 1}}})
		m, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png"})
		if err != nil {
			t.Fatal(err)
		}
		sig := sigOf(t, m.UploadURL)
		err = f.c.UploadMedia(ctx, m.UploadURL, bytes.NewReader(make([]byte, 1<<20)), 1<<20, "")
		assertClean(t, "reset upload", err, sig, m.UploadURL)

		// Nothing listening at the URL's host.
		dead := strings.Replace(m.UploadURL, f.r.URL, "http://"+freeport.Refusing(t), 1)
		err = f.c.UploadMedia(ctx, dead, strings.NewReader("abc"), 3, "")
		assertClean(t, "connection refused", err, sig)

		// A deadline mid-upload.
		short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		slow := newFixture(t, sandbox.Options{})
		sm, err := slow.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "b.png"})
		if err != nil {
			t.Fatal(err)
		}
		err = slow.c.UploadMedia(short, sm.UploadURL, slowReader{}, 1<<30, "")
		assertClean(t, "timeout upload", err, sigOf(t, sm.UploadURL))

		// Storage that echoes the whole URL back.
		for _, shape := range []string{"json", "text"} {
			echo := echoServer(t, 403, shape)
			u := strings.Replace(m.UploadURL, f.r.URL, echo, 1)
			err = f.c.UploadMedia(ctx, u, strings.NewReader("abc"), 3, "")
			assertClean(t, "echoing storage "+shape, err, sig, u)
		}
	})
}

// slowReader yields a byte now and then, forever.
type slowReader struct{}

func (slowReader) Read(p []byte) (int, error) {
	time.Sleep(5 * time.Millisecond)
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = 'x'
	return 1, nil
}

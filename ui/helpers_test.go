package ui

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/api"
	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/internal/workertest"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
)

// Tokens the test worlds accept.
const (
	tokenA = "ui-token-a-0123456789abcdef"
	tokenB = "ui-token-b-fedcba9876543210"
)

// world is the pages and the API mounted as the worker mounts them, on a
// tasks.Client over a real Redis (and, when asked, a real worker on the
// sandbox).
type world struct {
	client   *tasks.Client
	redis    *redistest.Redis
	srv      *httptest.Server
	stack    *workertest.World // nil without a worker
	root     string
	storeURL string
	profile  string
}

type worldOptions struct {
	tokens []string
	worker bool
	// processing is how long the sandbox keeps a confirmed media
	// processing, on its own clock: a test holds pipelines at await with a
	// long one and lets them go by advancing the clock past it.
	processing time.Duration
	refresh    time.Duration
	now        func() time.Time
	redis      *redistest.Redis
	// wrap, when set, wraps the mounted handler (to count requests).
	wrap func(http.Handler) http.Handler
	// guard, when set, is the authentication guard of the API and pages.
	guard *authlimit.Guard
	// traceURL is the pages' TRACE_URL_TEMPLATE; tracing, when set, is
	// where the client's spans go (so records have a trace).
	traceURL string
	tracing  trace.TracerProvider
	// workspaces, when set, are those requests may name; fileTokens the
	// workspaces file's tokens the API and the pages accept.
	workspaces []string
	fileTokens []workspaces.Token
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	w := &world{}
	pic := testmedia.PNG(16, 16, 1)
	store := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
		rw.Header().Set("Content-Type", "image/png")
		_, _ = rw.Write(pic)
	}))
	t.Cleanup(store.Close)
	w.storeURL = store.URL
	allowed := []string{"127.0.0.1"}
	rdb := o.redis
	if o.worker {
		w.stack = workertest.Start(t, workertest.Options{Redis: rdb, AllowedHosts: allowed, Worker: true,
			ProcessingDelay: o.processing})
		rdb, w.root, w.profile = w.stack.Redis, w.stack.Root, w.stack.Profiles[0]
	} else {
		if rdb == nil {
			rdb = redistest.New(t)
		}
		w.root, w.profile = t.TempDir(), "profile-1"
	}
	if err := os.WriteFile(filepath.Join(w.root, "pic.png"), pic, 0o644); err != nil {
		t.Fatal(err)
	}
	sources, err := source.New(source.Config{Root: w.root, AllowedHosts: allowed})
	if err != nil {
		t.Fatal(err)
	}
	w.redis = rdb
	copts := []tasks.ClientOption{tasks.WithSources(sources), tasks.WithTracerProvider(o.tracing)}
	if o.workspaces != nil {
		copts = append(copts, tasks.WithWorkspaces(o.workspaces...))
	}
	w.client = tasks.NewClient(rdb.Client, copts...)
	t.Cleanup(func() { _ = w.client.Close() })
	tokens := o.tokens
	if tokens == nil {
		tokens = []string{tokenA, tokenB}
	}
	w.srv = httptest.NewServer(w.mount(t, tokens, o))
	t.Cleanup(w.srv.Close)
	return w
}

// mount builds the mux cmd/worker serves on API_ADDR.
func (w *world) mount(t *testing.T, tokens []string, o worldOptions) http.Handler {
	t.Helper()
	a, err := api.New(w.client, api.Config{Tokens: tokens, FileTokens: o.fileTokens, Logger: zerolog.Nop(), Guard: o.guard})
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(w.client, Config{Tokens: tokens, FileTokens: o.fileTokens, Logger: zerolog.Nop(), RefreshEvery: o.refresh, Now: o.now,
		Redis: w.redis.Client, Guard: o.guard, TraceURL: o.traceURL})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(Prefix, p)
	mux.Handle("/", a)
	if o.wrap != nil {
		return o.wrap(mux)
	}
	return mux
}

// publish enqueues a pipeline of two media (a local file and a URL whose
// query is a credential the pages must never show).
func (w *world) publish(t *testing.T, key string, action tasks.Action, profile string) *tasks.Record {
	t.Helper()
	return w.publishIn(t, "", key, action, profile)
}

// publishIn is publish for the workspace ws ("" when the fleet serves one).
func (w *world) publishIn(t *testing.T, ws, key string, action tasks.Action, profile string) *tasks.Record {
	t.Helper()
	req := tasks.Request{Workspace: ws, Key: key,
		Media:  []tasks.MediaSource{{Source: "pic.png"}, {Source: w.storeURL + "/remote.png?token=" + secretInURL}},
		Post:   &tasks.PostSpec{ProfileIDs: []string{profile}, Caption: "caption of " + key},
		Action: action}
	if action == tasks.ActionSchedule {
		at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
		req.Post.PublishAt = &at
	}
	rec, _, err := w.client.Publish(context.Background(), req)
	if err != nil {
		t.Fatalf("publish %s: %v", key, err)
	}
	return rec
}

// secretInURL stands for a presigned URL's signature.
const secretInURL = "s3cr3t-signature"

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so a test sees each answer.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (w *world) browser(t *testing.T) *browser {
	t.Helper()
	jar := &jar{cookies: map[string]*http.Cookie{}}
	return &browser{t: t, base: w.srv.URL, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

// jar keeps cookies whatever their Secure flag, so tests can look at them.
type jar struct{ cookies map[string]*http.Cookie }

func (j *jar) SetCookies(_ *url.URL, cs []*http.Cookie) {
	for _, c := range cs {
		if c.MaxAge < 0 {
			delete(j.cookies, c.Name)
			continue
		}
		j.cookies[c.Name] = c
	}
}

func (j *jar) Cookies(*url.URL) []*http.Cookie {
	var out []*http.Cookie
	for _, c := range j.cookies {
		out = append(out, &http.Cookie{Name: c.Name, Value: c.Value})
	}
	return out
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (b *browser) do(method, path string, form url.Values, header map[string]string) answer {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatal(err)
	}
	return answer{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

func (b *browser) get(path string) answer { return b.do(http.MethodGet, path, nil, nil) }

func (b *browser) login(token string) answer {
	b.t.Helper()
	return b.do(http.MethodPost, Prefix+"login", url.Values{"token": {token}, "next": {Prefix}}, nil)
}

func (b *browser) mustLogin(token string) {
	b.t.Helper()
	if a := b.login(token); a.status != http.StatusSeeOther {
		b.t.Fatalf("log in: %d, want 303\n%s", a.status, a.body)
	}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token the page at path carries.
func (b *browser) csrf(path string) string {
	b.t.Helper()
	a := b.get(path)
	m := csrfField.FindStringSubmatch(a.body)
	if m == nil {
		b.t.Fatalf("GET %s (%d) has no CSRF field:\n%s", path, a.status, a.body)
	}
	return m[1]
}

func (b *browser) cookie() *http.Cookie {
	return b.c.Jar.(*jar).cookies[cookieName]
}

package api

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/logbuf"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/tasks"
)

// Tokens the test worlds accept.
const (
	tokenA = "token-a-0123456789abcdef"
	tokenB = "token-b-fedcba9876543210"
)

// world is one test's API: its own Redis, a tasks.Client checking sources
// the way the worker does, and the handler on a real HTTP server.
type world struct {
	redis  *redistest.Redis
	client *tasks.Client
	srv    *httptest.Server
	logs   *logbuf.Buffer
	guard  *authlimit.Guard
	// handler is the API the server serves.
	handler *Handler
}

type worldOptions struct {
	tokens       []string
	maxBody      int64
	rateLimit    rate.Limit
	allowedHosts []string
	mediaRoot    string
	// redis, when set, is shared with a worker the test runs.
	redis *redistest.Redis
	// rdb, when set, is the client the API uses instead of redis.Client.
	rdb *redis.Client
	// bodyTimeout, when set, replaces DefaultBodyTimeout.
	bodyTimeout time.Duration
	// authLimit, when set, holds back clients that fail to authenticate
	// more often than that a minute (a Guard on the world's Redis).
	authLimit int
	// metrics, when set, counts what the Guard refuses.
	metrics *metrics.Metrics
	// configure, when set, changes the Config before New.
	configure func(*Config)
	// tracing, when set, receives the tasks.Client's spans.
	tracing trace.TracerProvider
	// workspaces, when set, are the workspaces requests may name.
	workspaces []string
}

func newWorld(t *testing.T, o worldOptions) *world {
	t.Helper()
	w := &world{redis: o.redis, logs: &logbuf.Buffer{}}
	if w.redis == nil {
		w.redis = redistest.New(t)
	}
	sources, err := source.New(source.Config{Root: o.mediaRoot, AllowedHosts: o.allowedHosts})
	if err != nil {
		t.Fatal(err)
	}
	rdb := w.redis.Client
	if o.rdb != nil {
		rdb = o.rdb
	}
	opts := []tasks.ClientOption{tasks.WithSources(sources), tasks.WithTracerProvider(o.tracing)}
	if o.workspaces != nil {
		opts = append(opts, tasks.WithWorkspaces(o.workspaces...))
	}
	w.client = tasks.NewClient(rdb, opts...)
	t.Cleanup(func() { _ = w.client.Close() })
	if o.tokens == nil {
		o.tokens = []string{tokenA, tokenB}
	}
	if o.authLimit > 0 {
		// Summaries once an hour: within a test, only Close ends a window.
		w.guard, err = authlimit.New(rdb, authlimit.Config{PerMinute: o.authLimit, SummaryEvery: time.Hour, Clock: fixedClock(),
			Logger: zerolog.New(w.logs), Metrics: o.metrics})
		if err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Tokens: o.tokens, MaxBody: o.maxBody, RateLimit: o.rateLimit, Logger: zerolog.New(w.logs), Guard: w.guard}
	if o.configure != nil {
		o.configure(&cfg)
	}
	h, err := New(w.client, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if o.bodyTimeout != 0 {
		h.bodyTimeout = o.bodyTimeout
	}
	w.handler = h
	w.srv = httptest.NewServer(h)
	t.Cleanup(w.srv.Close)
	return w
}

// response is what the API answered, already checked against the spec.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) problem(t *testing.T) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("status %d with Content-Type %q, want application/problem+json; body %s", r.status, ct, r.body)
	}
	var p Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("problem body %s: %v", r.body, err)
	}
	if p.Status != r.status {
		t.Errorf("problem status %d, response status %d", p.Status, r.status)
	}
	return p
}

func (r response) record(t *testing.T) *tasks.Record {
	t.Helper()
	var rec tasks.Record
	if err := json.Unmarshal(r.body, &rec); err != nil {
		t.Fatalf("record body %s: %v", r.body, err)
	}
	return &rec
}

// call describes one request.
type call struct {
	method, path string
	// token is sent as a bearer token unless it is "-" (no header);
	// "" means tokenA.
	token string
	// auth replaces the whole Authorization header when set.
	auth        string
	contentType string // "" means application/json for bodies, "-" none
	body        string
	header      map[string]string
	extraHeader [][2]string
	// chunked sends the body without a Content-Length.
	chunked bool
	// stream, when set, is the body, sent as it is read.
	stream io.Reader
	// from, when set, is the loopback address the request is sent from
	// (127.0.0.2, say), so a test has clients at several addresses.
	from string
}

// do sends c and checks the answer against openapi.yaml: its status is
// documented for the route, and its headers and body match the schemas.
func (w *world) do(t *testing.T, c call) response {
	t.Helper()
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
		if c.chunked {
			body = io.MultiReader(strings.NewReader(c.body))
		}
	}
	if c.stream != nil {
		body = c.stream
	}
	req, err := http.NewRequest(c.method, w.srv.URL+c.path, body)
	if err != nil {
		t.Fatal(err)
	}
	switch c.token {
	case "-":
	case "":
		req.Header.Set("Authorization", "Bearer "+tokenA)
	default:
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.auth != "" {
		req.Header.Set("Authorization", c.auth)
	}
	switch {
	case c.contentType == "-":
	case c.contentType != "":
		req.Header.Set("Content-Type", c.contentType)
	case c.body != "" || c.stream != nil:
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header.Add(k, v)
	}
	for _, kv := range c.extraHeader {
		req.Header.Add(kv[0], kv[1])
	}
	hc := w.srv.Client()
	if c.from != "" {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(c.from)}}
		hc = &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		defer hc.CloseIdleConnections()
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read the answer: %v", c.method, c.path, err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: b}
	checkAgainstSpec(t, req, r)
	return r
}

// publish sends a publish request with tokenA.
func (w *world) publish(t *testing.T, body string, header map[string]string) response {
	t.Helper()
	return w.do(t, call{method: http.MethodPost, path: "/v1/pipelines", body: body, header: header})
}

// mustPublish publishes body and returns the new record.
func (w *world) mustPublish(t *testing.T, body string) *tasks.Record {
	t.Helper()
	r := w.publish(t, body, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	return r.record(t)
}

// keys lists what Redis holds.
func (w *world) keys(t *testing.T) []string {
	t.Helper()
	keys, err := w.redis.Client.Keys(context.Background(), "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	// A running worker's asynq servers come and go on their own: their
	// heartbeats are no one's request.
	return slices.DeleteFunc(keys, func(k string) bool {
		return strings.HasPrefix(k, "asynq:servers") || strings.HasPrefix(k, "asynq:workers")
	})
}

// assertNothingQueued fails the test when Redis holds anything: refused
// requests must leave no record and no task behind.
func (w *world) assertNothingQueued(t *testing.T) {
	t.Helper()
	if keys := w.keys(t); len(keys) != 0 {
		t.Errorf("Redis holds %v after a refused request", keys)
	}
}

// pendingTasks counts the tasks queued for workers.
func pendingTasks(t *testing.T, w *world) int {
	t.Helper()
	insp := asynq.NewInspectorFromRedisClient(w.redis.Client)
	info, err := insp.GetQueueInfo(tasks.QueuePipeline)
	if err != nil {
		t.Fatalf("inspect queue %s: %v", tasks.QueuePipeline, err)
	}
	return info.Pending
}

// validRequest is a publish request the API accepts: a public URL source
// (not fetched at enqueue time) and a draft.
func validRequest(caption string) string {
	return `{"media":[{"source":"https://cdn.example.com/a.jpg"}],"post":{"profileIds":["prof_1"],"caption":"` + caption + `"},"action":"draft"}`
}

func fieldsOf(p Problem) []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// fixedClock is a time that does not move: failures counted by it are not
// forgiven because the machine ran slowly.
func fixedClock() func() time.Time {
	at := time.Now()
	return func() time.Time { return at }
}

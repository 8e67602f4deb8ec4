package tasks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// testTiming makes every wait of the pipeline short. asynq schedules in
// whole seconds, so sub-second delays mean "as soon as the forwarder runs".
var testTiming = Timing{
	MaxRetry:        6,
	RetryBase:       50 * time.Millisecond,
	RetryMax:        time.Second,
	AwaitFirst:      200 * time.Millisecond,
	AwaitMax:        time.Second,
	WatchFirst:      200 * time.Millisecond,
	WatchMax:        time.Second,
	PublishGrace:    100 * time.Millisecond,
	MinScheduleLead: time.Second,
}

// bundle is one test's mediaflow: a real Redis, the sandbox, a worker and
// the Go client, plus a media root holding sample files.
type bundle struct {
	t        *testing.T
	redis    *redistest.Redis
	sb       *sandbox.Running
	api      *swonkie.Client
	sources  *source.Opener
	client   *Client
	worker   *Worker
	metrics  *metrics.Metrics
	root     string
	profiles []string // healthy profile ids
	expired  string   // a profile whose connection expired
	logs     *logbuf.Buffer
	timing   Timing
	sbOpts   sandbox.Options
	// second is the second workspace's, when the test asked for one
	// (withSecondWorkspace).
	second *secondWorkspace
	// callTimeout bounds each call of the API clients newAPIClient makes
	// (setupConfig.callTimeout).
	callTimeout time.Duration
}

type setupConfig struct {
	sandbox     sandbox.Options
	timing      Timing
	concurrency int
	sweep       string
	noWorker    bool
	apiKey      string   // overrides the key the worker sends
	allowHosts  []string // media source hosts allowed past the address guard
	clock       *fakeClock
	queues      map[string]int // default: every mediaflow queue
	webhookURL  string
	secrets     [][]byte
	// tracing receives the spans of the client, the worker and the
	// Swonkie client; nil leaves them to the (no-op) global provider.
	tracing trace.TracerProvider
	// webhookConcurrency: the worker's webhook slots (0: its default).
	webhookConcurrency int
	// preflight: pipelines start with pre-flight, as they do by default
	// outside tests. Off here unless asked: most tests prove the steps
	// after it with sample PNGs sent to Instagram, which its rules refuse
	// (JPEG only), and pre-flight has tests of its own.
	preflight bool
	// profileRefresh: the worker's refresher interval; 0 runs none, so
	// that no directory is cached unless a test asks (RefreshProfiles).
	profileRefresh time.Duration
	// second, when set, is a second workspace's sandbox: the worker serves
	// DefaultWorkspace and secondName.
	second *sandbox.Options
	// callTimeout bounds each API call of the bundle's clients (0: the
	// client's default, 30 s).
	callTimeout time.Duration
}

// shortClaims gives a bundle's API calls 2 s and its post claims a
// margin of 1 s: a test whose call on the post may still land (a
// timeout, a cancel mid-call) waits 3 s for the claim, not 40.
func shortClaims(c *setupConfig) {
	c.callTimeout = 2 * time.Second
	c.timing.ClaimMargin = time.Second
}

// withPreflight turns pre-flight on for a bundle's client.
func withPreflight(c *setupConfig) { c.preflight = true }

// fakeClock is the time a worker goes by in tests that must not wait:
// the sweep's "stuck", "due" and retention decisions read it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// setup starts everything for one test; options adjust the defaults.
func setup(t *testing.T, opts ...func(*setupConfig)) *bundle {
	t.Helper()
	cfg := setupConfig{
		sandbox: sandbox.Options{
			APIID: "test-app-id-4d1f", APIKey: "test-secret-key-9c2e7b", Seed: 7,
			ProcessingDelay: 300 * time.Millisecond, PublishDelay: 300 * time.Millisecond,
		},
		timing:      testTiming,
		concurrency: 10,
		sweep:       "off",
	}
	for _, o := range opts {
		o(&cfg)
	}
	b := &bundle{t: t, redis: redistest.New(t), logs: &logbuf.Buffer{}, timing: cfg.timing.withDefaults(), sbOpts: cfg.sandbox, callTimeout: cfg.callTimeout}
	// asynq recovers a handler's panic and retries the task, so a test
	// could pass over one: none may happen. (Runs last, after the workers
	// stopped.)
	t.Cleanup(func() {
		if logs := b.logs.String(); strings.Contains(logs, "recovering from panic") {
			i := strings.Index(logs, "recovering from panic")
			t.Errorf("a task handler panicked: %s", logs[i:min(len(logs), i+1500)])
		}
	})
	b.sb = sandbox.Start(t, cfg.sandbox)
	b.metrics = metrics.New(metrics.Options{Version: "test"})
	key := cfg.sandbox.APIKey
	if cfg.apiKey != "" {
		key = cfg.apiKey
	}
	var err error
	b.api, err = swonkie.New(swonkie.Config{BaseURL: b.sb.BaseURL, APIID: cfg.sandbox.APIID, APIKey: key, RateLimit: 1000, Burst: 100,
		MaxConns: cfg.concurrency, Instrument: b.metrics.InstrumentTransport, TracerProvider: cfg.tracing, Timeout: cfg.callTimeout})
	if err != nil {
		t.Fatal(err)
	}
	b.root = t.TempDir()
	for i, name := range []string{"a.png", "b.png", "c.png"} {
		if err := testmedia.WritePNG(filepath.Join(b.root, name), 32, 24, i+1); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(b.root, "notes.txt"), []byte("just some text, not an image\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	b.sources, err = source.New(source.Config{Root: b.root, AllowedHosts: cfg.allowHosts})
	if err != nil {
		t.Fatal(err)
	}
	copts := []ClientOption{WithSourceCheck(b.sources.Check, source.Supported), WithTiming(cfg.timing),
		WithTracerProvider(cfg.tracing)}
	if !cfg.preflight {
		copts = append(copts, WithoutPreflight())
	}
	b.client = NewClient(b.redis.Client, copts...)
	t.Cleanup(func() { _ = b.client.Close() })
	for _, p := range b.sb.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK {
			b.profiles = append(b.profiles, p.ID)
		} else {
			b.expired = p.ID
		}
	}
	if cfg.second != nil {
		b.second = b.startSecond(*cfg.second, cfg)
	}
	if !cfg.noWorker {
		b.worker = b.startWorker(cfg)
	}
	return b
}

func (b *bundle) startWorker(cfg setupConfig) *Worker {
	b.t.Helper()
	var clock func() time.Time
	if cfg.clock != nil {
		clock = cfg.clock.Now
	}
	w, err := NewWorker(WorkerConfig{
		Redis:                b.redis.Client,
		API:                  b.api,
		Workspaces:           b.workspaces(),
		Sources:              b.sources,
		Metrics:              b.metrics,
		Logger:               zerolog.New(b.logs).Level(zerolog.DebugLevel).With().Timestamp().Logger(),
		Concurrency:          cfg.concurrency,
		PollInterval:         20 * time.Millisecond,
		DelayedCheckInterval: 100 * time.Millisecond,
		ShutdownTimeout:      5 * time.Second,
		StatsInterval:        200 * time.Millisecond,
		SweepSchedule:        cfg.sweep,
		Timing:               cfg.timing,
		Clock:                clock,
		Queues:               cfg.queues,
		WebhookURL:           cfg.webhookURL,
		WebhookSecrets:       cfg.secrets,
		TracerProvider:       cfg.tracing,
		WebhookConcurrency:   cfg.webhookConcurrency,
		ProfileRefresh:       cmpOr(cfg.profileRefresh, -1),
	})
	if err != nil {
		b.t.Fatal(err)
	}
	if err := w.Start(); err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(w.Shutdown)
	return w
}

func cmpOr(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// request is a valid request for one or more sample files.
func (b *bundle) request(action Action, files ...string) Request {
	r := Request{
		Post:   &PostSpec{ProfileIDs: b.profiles[:2], Caption: "hello from " + b.t.Name()},
		Action: action,
	}
	for _, f := range files {
		r.Media = append(r.Media, MediaSource{Source: f})
	}
	if action == ActionSchedule {
		at := time.Now().Add(3 * time.Second)
		r.Post.PublishAt = &at
	}
	return r
}

func (b *bundle) publish(req Request) *Record {
	b.t.Helper()
	rec, _, err := b.client.Publish(context.Background(), req)
	if err != nil {
		b.t.Fatalf("publish: %v", err)
	}
	return rec
}

// publishAllSucceed publishes n publishNow pipelines of files at once and
// fails the test unless each of them succeeds; it returns their ids.
func (b *bundle) publishAllSucceed(n int, files ...string) []string {
	b.t.Helper()
	var ids []string
	for range n {
		ids = append(ids, b.publish(b.request(ActionPublishNow, files...)).ID)
	}
	for _, id := range ids {
		if rec := b.wait(id); rec.State != StateSucceeded {
			b.t.Fatalf("pipeline %s ended %s", id, dump(rec))
		}
	}
	return ids
}

// wait waits for a pipeline to end and returns its final record.
func (b *bundle) wait(id string) *Record {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rec, err := b.client.Wait(ctx, id, 50*time.Millisecond, nil)
	if err != nil {
		b.t.Fatalf("wait for pipeline %s: %v (last record: %s)", id, err, dump(rec))
	}
	return rec
}

// waitRecord polls a pipeline's record until cond holds and returns it.
func (b *bundle) waitRecord(id, what string, cond func(*Record) bool) *Record {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := b.client.Get(context.Background(), id)
		if err != nil {
			b.t.Fatalf("waiting for %s: %v", what, err)
		}
		if cond(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("timed out waiting for %s: %s", what, dump(rec))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settled waits until a pipeline has ended, nothing of it runs or waits
// to run in asynq, and its cleanup is done, and returns its record. A
// pipeline's end does not wait for its other steps in flight: an upload
// running beside the one that failed may still create its entry, which its
// write then hands to a new cleanup round.
func (b *bundle) settled(id string) *Record {
	b.t.Helper()
	quiet := 0
	return b.waitRecord(id, "the end, its cleanup and no task left", func(r *Record) bool {
		// Twice in a row, so that a write and the task it enqueues cannot
		// both fall between one look at the record and one at the tasks.
		if r.State.Terminal() && r.Cleanup != CleanupPending && !b.tasksLeft(id) {
			quiet++
		} else {
			quiet = 0
		}
		return quiet >= 2
	})
}

// tasksLeft reports whether any task of pipeline id is active, pending,
// scheduled or waiting to retry (one that completed or was archived is
// not): a task whose last run failed is still active until asynq has
// archived it, after its handler returned.
func (b *bundle) tasksLeft(id string) bool {
	b.t.Helper()
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	type lister func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	for _, q := range []string{QueuePipeline, QueueCleanup} {
		for _, list := range []lister{insp.ListActiveTasks, insp.ListPendingTasks, insp.ListScheduledTasks, insp.ListRetryTasks} {
			infos, err := list(q)
			if errors.Is(err, asynq.ErrQueueNotFound) {
				continue // nothing was ever enqueued in it
			}
			if err != nil {
				b.t.Fatalf("list %s tasks: %v", q, err)
			}
			for _, ti := range infos {
				if strings.Contains(ti.ID, compactID(id)) {
					return true
				}
			}
		}
	}
	return false
}

// assertClean checks I3 (docs/design.md) from the sandbox's side: nothing the
// worker created is left unless a published post uses it or its create
// reply was lost; and no post was made twice.
func (b *bundle) assertClean() {
	b.t.Helper()
	st := b.sb.Server.Stats()
	for _, id := range st.Media.Orphaned {
		if !slices.Contains(st.Media.LostCreates, id) && !slices.Contains(st.Media.UnusableCreates, id) {
			info, _ := b.sb.Server.Media(id)
			b.t.Errorf("orphaned media %s: %+v", id, info)
		}
	}
	if n := st.Posts.DuplicatePosts() + st.Posts.DuplicatesByMedia(); n != 0 {
		b.t.Errorf("%d duplicate posts: %v %v", n, st.Posts.Duplicates, st.Posts.ByMediaSet)
	}
	if len(st.Violations) > 0 {
		b.t.Errorf("client violations: %+v", st.Violations)
	}
}

// assertDeleted checks that every media the record knows of is deleted
// on the sandbox.
func (b *bundle) assertDeleted(rec *Record) {
	b.t.Helper()
	for i, m := range rec.Media {
		if m.MediaID == "" {
			continue
		}
		info, ok := b.sb.Server.Media(m.MediaID)
		if !ok || info.State != sandbox.StateDeleted || !m.Deleted {
			b.t.Errorf("media %d (%s): record deleted=%v, sandbox %+v", i, m.MediaID, m.Deleted, info)
		}
	}
	for _, s := range rec.StaleMedia {
		info, _ := b.sb.Server.Media(s.MediaID)
		if info.State != sandbox.StateDeleted || !s.Deleted {
			b.t.Errorf("stale media %s: record deleted=%v, sandbox state %s", s.MediaID, s.Deleted, info.State)
		}
	}
}

func dump(r *Record) string {
	if r == nil {
		return "<nil>"
	}
	var b strings.Builder
	b.WriteString(string(r.State) + "/" + string(r.Step))
	if r.Error != nil {
		b.WriteString(" error=" + r.Error.Message)
	}
	for _, e := range r.History {
		b.WriteString("\n  " + e.At.Format("15:04:05.000") + " " + string(e.Step) + " " + e.Outcome + " " + e.Message)
	}
	return b.String()
}

// newAPIClient points a client with the test's credentials at base.
func (b *bundle) newAPIClient(base string) *swonkie.Client {
	b.t.Helper()
	o := b.sbOpts
	c, err := swonkie.New(swonkie.Config{BaseURL: base, APIID: o.APIID, APIKey: o.APIKey, RateLimit: 1000, Burst: 100,
		MaxConns: 10, Instrument: b.metrics.InstrumentTransport, Timeout: b.callTimeout})
	if err != nil {
		b.t.Fatal(err)
	}
	return c
}

// metricValue reads one series from the bundle's registry (0 when absent).
func (b *bundle) metricValue(name string, labels map[string]string) float64 {
	b.t.Helper()
	return metricstest.Value(b.t, b.metrics.Registry(), name, labels)
}

// metricReaches waits up to 5 s for a counter to reach want, and returns
// what it read last: observe emits a write's metrics just after the write
// a test waits for lands, so the first read may come before them.
func (b *bundle) metricReaches(name string, labels map[string]string, want float64) float64 {
	b.t.Helper()
	v := b.metricValue(name, labels)
	for deadline := time.Now().Add(5 * time.Second); v < want && time.Now().Before(deadline); v = b.metricValue(name, labels) {
		time.Sleep(10 * time.Millisecond)
	}
	return v
}

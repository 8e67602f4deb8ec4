// Package workertest starts, for one test, what a front end of mediaflow
// (the enqueue CLI, the HTTP API) needs to run pipelines end to end: a real
// Redis, the Swonkie sandbox, and a worker on them with short waits.
package workertest

import (
	"cmp"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// Options adjust a World; the zero value is a sandbox without faults and
// no worker.
type Options struct {
	// Redis is the Redis to use; nil starts one for the test.
	Redis *redistest.Redis
	// Root is the media root; "" makes an empty temporary folder.
	Root string
	// AllowedHosts are media source hosts the worker may reach although
	// they are private (test servers listen on 127.0.0.1).
	AllowedHosts []string
	// Faults is the sandbox's fault plan.
	Faults sandbox.FaultPlan
	// Worker starts a worker; without it pipelines are only enqueued.
	Worker bool
	// ProcessingDelay and PublishDelay are the sandbox's (0 means 100 ms):
	// longer ones keep pipelines running long enough to watch.
	ProcessingDelay, PublishDelay time.Duration
	// Seed is the sandbox's (0 means 1): it decides which calls the fault
	// plan strikes.
	Seed int64
	// TracerProvider receives the worker's and its Swonkie client's spans;
	// nil leaves them to the global one.
	TracerProvider trace.TracerProvider
	// WebhookURL receives the worker's events; "" sends none.
	WebhookURL string
	// ProfileRefresh is the worker's profile directory refresh interval;
	// 0 runs none, so no directory is cached until a test asks
	// (Worker.RefreshProfiles).
	ProfileRefresh time.Duration
}

// World is what Start started.
type World struct {
	Redis   *redistest.Redis
	Sandbox *sandbox.Running
	// API is a Swonkie client on the sandbox, for arranging and checking.
	API *swonkie.Client
	// Root is the media root the worker reads local files from.
	Root string
	// Profiles are the sandbox's healthy profile ids; Expired is one whose
	// connection expired (posts to it fail validation).
	Profiles []string
	Expired  string
	Worker   *tasks.Worker
}

// Credentials of the sandbox a World starts.
const (
	APIID  = "workertest-id"
	APIKey = "workertest-key"
)

// Start starts a World that is stopped when the test ends.
func Start(tb testing.TB, o Options) *World {
	tb.Helper()
	w := &World{Redis: o.Redis, Root: o.Root}
	if w.Redis == nil {
		w.Redis = redistest.New(tb)
	}
	if w.Root == "" {
		w.Root = tb.TempDir()
	}
	if o.ProcessingDelay == 0 {
		o.ProcessingDelay = 100 * time.Millisecond
	}
	if o.PublishDelay == 0 {
		o.PublishDelay = 100 * time.Millisecond
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	w.Sandbox = sandbox.Start(tb, sandbox.Options{
		APIID: APIID, APIKey: APIKey, Seed: o.Seed, Faults: o.Faults,
		ProcessingDelay: o.ProcessingDelay, PublishDelay: o.PublishDelay,
	})
	for _, p := range w.Sandbox.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK {
			w.Profiles = append(w.Profiles, p.ID)
		} else {
			w.Expired = p.ID
		}
	}
	var err error
	w.API, err = swonkie.New(swonkie.Config{BaseURL: w.Sandbox.BaseURL, APIID: APIID, APIKey: APIKey, RateLimit: 1000, Burst: 100, MaxConns: 4,
		TracerProvider: o.TracerProvider})
	if err != nil {
		tb.Fatal(err)
	}
	if !o.Worker {
		return w
	}
	// The worker's opener enforces the address guard again at dial time.
	sources, err := source.New(source.Config{Root: w.Root, AllowedHosts: o.AllowedHosts})
	if err != nil {
		tb.Fatal(err)
	}
	w.Worker, err = tasks.NewWorker(tasks.WorkerConfig{
		Redis: w.Redis.Client, API: w.API, Sources: sources, Logger: zerolog.Nop(),
		PollInterval: 20 * time.Millisecond, DelayedCheckInterval: 100 * time.Millisecond, SweepSchedule: "off",
		Timing:     tasks.Timing{AwaitFirst: 100 * time.Millisecond, AwaitMax: 500 * time.Millisecond, WatchFirst: 100 * time.Millisecond, WatchMax: 500 * time.Millisecond},
		WebhookURL: o.WebhookURL, TracerProvider: o.TracerProvider,
		ProfileRefresh: cmp.Or(o.ProfileRefresh, -1),
	})
	if err != nil {
		tb.Fatal(err)
	}
	if err := w.Worker.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(w.Worker.Shutdown)
	return w
}

package tasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/asynqlog"
	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// WorkerConfig wires a Worker. Redis, API and Sources are required.
type WorkerConfig struct {
	// Redis is shared by asynq and the record store; the worker never
	// closes it.
	Redis redis.UniversalClient
	// API is the Swonkie client of a worker that serves one workspace
	// (DefaultWorkspace); Workspaces, when set, are the clients of every
	// workspace it serves, by name (one of them is enough).
	API        *swonkie.Client
	Workspaces map[string]*swonkie.Client
	// MaxActive bounds, by workspace name, how many of its pipelines hold
	// worker slots at once, fleet-wide (the workspaces file's maxActive;
	// 0 or absent: no bound). SetMaxActive replaces it.
	MaxActive map[string]int
	Sources   *source.Opener
	// Metrics, when set, gets the task middleware, the pipeline events and
	// the queue and pipeline pollers.
	Metrics *metrics.Metrics
	Logger  zerolog.Logger

	// Concurrency is how many tasks of the pipeline and cleanup queues run
	// at once (default 20).
	Concurrency int
	// WebhookConcurrency is how many webhook deliveries run at once
	// (default DefaultWebhookConcurrency). They have slots of their own,
	// apart from Concurrency: a receiver that never answers holds only
	// these, never a publishing one.
	WebhookConcurrency int
	// Queues maps queue names to priority weights (default Queues: the
	// pipeline queue 6, the cleanup and notify queues 1 each). The notify
	// queue, when listed, is served by the webhook slots; its weight is
	// unused.
	Queues map[string]int
	// ShutdownTimeout is how long Shutdown waits for running tasks
	// (default 30s); tasks still running then are retried elsewhere.
	ShutdownTimeout time.Duration
	// PollInterval is how often an idle worker looks for new tasks
	// (default DefaultPollInterval). asynq polls rather than blocks, so
	// this bounds the latency a new pipeline waits before its first step
	// (the steps after it mostly run inline).
	PollInterval time.Duration
	// DelayedCheckInterval is how often scheduled and retrying tasks are
	// moved to their queue (default 1s).
	DelayedCheckInterval time.Duration
	// SweepSchedule is "@every <duration>" or a cron expression (default
	// DefaultSweepSchedule); "off" runs no sweep from this worker.
	SweepSchedule string
	// StatsInterval is how often the metrics pollers read Redis (default
	// 15s).
	StatsInterval time.Duration
	Timing        Timing
	// Holder names this worker in sweep claims (default host:pid).
	Holder string
	// Clock is the time the pipeline and the sweep go by (default
	// time.Now); tests pass a fake one. asynq keeps its own time.
	Clock func() time.Time

	// WebhookURL receives the events of requests that name no webhook of
	// their own ("" sends none); WebhookSecrets sign them (whsec_…,
	// ParseWebhookSecrets); WebhookRetryFor is how long an event is
	// retried (default 24h).
	WebhookURL      string
	WebhookSecrets  [][]byte
	WebhookRetryFor time.Duration

	// Rules are the networks' publishing rules pre-flight checks posts
	// against (PUBLISH_RULES_FILE); nil means publishrules.Default().
	Rules *publishrules.Rules
	// Workspace names the workspace API opens (DefaultWorkspace when
	// "", or API's name in Workspaces): RefreshProfiles answers its
	// directory. Every pipeline is checked in its own workspace's.
	Workspace string
	// ProfileRefresh is how often every served workspace's profile
	// directory is fetched from GET /profiles (default
	// DefaultProfileRefresh); negative never.
	ProfileRefresh time.Duration

	// TracerProvider receives the spans of every task run, of what a run
	// does besides calling Swonkie (whose client has a provider of its
	// own), and of webhook deliveries; nil means the global one
	// (otel.GetTracerProvider), a no-op until a program installs an SDK.
	// Logger lines written inside a span carry its trace_id and span_id.
	TracerProvider trace.TracerProvider
}

// Worker runs the pipeline's task handlers, the sweep scheduler and the
// metrics pollers.
type Worker struct {
	cfg    WorkerConfig
	p      *pipeline
	server *asynq.Server
	// notifier serves the notify queue with the webhook slots; nil when
	// this worker serves no webhooks. server is nil when it serves only
	// them.
	notifier *asynq.Server
	sweeper  *sweepScheduler
	profiles *profileRefresher
	pollers  []*metrics.Poller
	enq      *asynq.Client
	insp     *asynq.Inspector
	mux      *asynq.ServeMux

	startOnce, stopOnce sync.Once
	startErr            error
}

// NewWorker checks cfg and builds a Worker; Start runs it.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if len(cfg.Workspaces) == 0 && cfg.API != nil {
		name := cfg.Workspace
		if name == "" {
			name = DefaultWorkspace
		}
		cfg.Workspaces = map[string]*swonkie.Client{name: cfg.API}
	}
	if cfg.API == nil && len(cfg.Workspaces) > 0 {
		cfg.Workspace = slices.Sorted(maps.Keys(cfg.Workspaces))[0]
		cfg.API = cfg.Workspaces[cfg.Workspace]
	}
	for name, api := range cfg.Workspaces {
		if cfg.Workspace == "" && api == cfg.API {
			cfg.Workspace = name
		}
	}
	if cfg.Redis == nil || cfg.API == nil || cfg.Sources == nil {
		return nil, errors.New("tasks: worker needs Redis, a Swonkie client and a source opener")
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 20
	}
	if cfg.WebhookConcurrency <= 0 {
		cfg.WebhookConcurrency = DefaultWebhookConcurrency
	}
	if len(cfg.Queues) == 0 {
		cfg.Queues = maps.Clone(Queues)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.WebhookRetryFor > 0 {
		cfg.Timing.WebhookRetryFor = cfg.WebhookRetryFor
	}
	if cfg.ShutdownTimeout <= 0 {
		cfg.ShutdownTimeout = 30 * time.Second
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.DelayedCheckInterval <= 0 {
		cfg.DelayedCheckInterval = time.Second
	}
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = 15 * time.Second
	}
	if cfg.SweepSchedule == "" {
		cfg.SweepSchedule = DefaultSweepSchedule
	}
	if cfg.Holder == "" {
		host, _ := os.Hostname()
		cfg.Holder = host + ":" + strconv.Itoa(os.Getpid())
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.Rules == nil {
		cfg.Rules = publishrules.Default()
	}
	if cfg.Workspace == "" {
		cfg.Workspace = DefaultWorkspace
	}
	if cfg.ProfileRefresh == 0 {
		cfg.ProfileRefresh = DefaultProfileRefresh
	}

	var obs Observer = nopObserver{}
	if cfg.Metrics != nil {
		obs = cfg.Metrics
	}
	enq := asynq.NewClientFromRedisClient(cfg.Redis)
	insp := asynq.NewInspectorFromRedisClient(cfg.Redis)
	r := rdb.New(cfg.Redis, stateNames())
	log := cfg.Logger
	p := &pipeline{
		store: newStore(r, cfg.Clock),
		api:   cfg.API,
		apis:  &workspaceAPIs{},
		// maxActive is shared by every workspace's view of the pipeline.
		maxActive: &maxActive{},
		// seenPosts is shared by every workspace's view of the pipeline;
		// its keys carry the workspace.
		seenPosts: &postFactsCache{},
		sources:   cfg.Sources,
		enq:       enq,
		insp:      insp,
		obs:       obs,
		log:       log,
		timing:    cfg.Timing,
		now:       cfg.Clock,
		holder:    cfg.Holder,
		webhook:   newWebhooks(cfg.WebhookURL, cfg.WebhookSecrets, cfg.Sources.EndpointTransport()),
		cancels:   newCancelListener(r, log.With().Str("component", "cancel").Logger()),
		tracer:    tracerOf(cfg.TracerProvider),
	}
	p.webhook.tracer = p.tracer
	// Each run checks in its own workspace (preflightChecker.in).
	p.checker = preflightChecker{sources: cfg.Sources, rules: cfg.Rules, rdb: r, now: cfg.Clock, log: log}
	p.apis.set(cfg.Workspaces)
	p.maxActive.set(cfg.MaxActive)
	p.pauses = newWorkspacePauses(rdb.NewPauses(cfg.Redis), p.apis.names, cfg.Metrics, cfg.Clock, log.With().Str("component", "pauses").Logger())
	w := &Worker{cfg: cfg, p: p, enq: enq, insp: insp}
	if cfg.ProfileRefresh > 0 {
		w.profiles = newProfileRefresher(p.checker, p.apis, cfg.ProfileRefresh, log.With().Str("component", "profiles").Logger())
	}
	w.mux = w.newMux()
	p.mux = w.mux
	work, notify := splitQueues(cfg.Queues)
	if len(work) > 0 {
		w.server = w.newServer(work, cfg.Concurrency, "asynq")
	}
	if notify != nil {
		w.notifier = w.newServer(notify, cfg.WebhookConcurrency, "asynq-webhooks")
	}
	if cfg.SweepSchedule != "off" {
		sched, err := ParseSweepSchedule(cfg.SweepSchedule)
		if err != nil {
			return nil, err
		}
		w.sweeper = newSweepScheduler(enq, cfg.Timing, sched, cfg.Logger.With().Str("component", "sweep").Logger())
		first := sched.Next(time.Now())
		p.sweepEvery = sched.Next(first).Sub(first)
	}
	if m := cfg.Metrics; m != nil {
		m.InitWorkspaces(slices.Sorted(maps.Keys(cfg.Workspaces))...)
		m.InitTaskTypes(TaskTypes...)
		m.InitQueues(slices.Sorted(maps.Keys(cfg.Queues))...)
		for _, c := range swonkieCalls {
			m.InitEndpoint(c.method, c.endpoint)
		}
		w.pollers = append(w.pollers,
			m.WatchQueues(insp, cfg.StatsInterval),
			m.WatchPipelines(w.pipelineStats, cfg.StatsInterval))
	}
	return w, nil
}

// DefaultWebhookConcurrency is how many webhook deliveries a worker runs at
// once by default: a few, so that receivers that hang hold a few
// goroutines and connections rather than a worker's worth.
const DefaultWebhookConcurrency = 4

// splitQueues parts the queues a worker serves into the ones its task
// slots serve and the notify queue, which gets slots of its own: asynq's
// weights order queues, they do not cap them, so sharing slots would let
// deliveries to a receiver that never answers hold every one of them.
func splitQueues(queues map[string]int) (work, notify map[string]int) {
	work = maps.Clone(queues)
	if w, ok := work[QueueNotify]; ok {
		delete(work, QueueNotify)
		notify = map[string]int{QueueNotify: w}
	}
	return work, notify
}

// newServer is one asynq server of the worker, on its queues and slots.
func (w *Worker) newServer(queues map[string]int, concurrency int, component string) *asynq.Server {
	cfg := w.cfg
	return asynq.NewServerFromRedisClient(cfg.Redis, asynq.Config{
		Concurrency:              concurrency,
		Queues:                   queues,
		RetryDelayFunc:           cfg.Timing.retryDelay,
		IsFailure:                isFailure,
		ShutdownTimeout:          cfg.ShutdownTimeout,
		TaskCheckInterval:        cfg.PollInterval,
		DelayedTaskCheckInterval: cfg.DelayedCheckInterval,
		Logger:                   asynqlog.Logger{L: cfg.Logger.With().Str("component", component).Logger()},
		LogLevel:                 asynqlog.Level(cfg.Logger.GetLevel()),
		BaseContext:              func() context.Context { return context.Background() },
	})
}

// DefaultPollInterval: an idle worker's poll costs one script call per
// queue group; at 50 ms that is about 20 a second per worker, and half of
// it is the mean wait of a new pipeline (docs/benchmarks.md).
const DefaultPollInterval = 50 * time.Millisecond

// swonkieCalls are the Swonkie calls the steps make (endpoint templates as
// swonkie.Endpoint names them), so their series are in a worker's first
// scrape.
var swonkieCalls = []struct{ method, endpoint string }{
	{"POST", "/media"}, {"GET", "/media/{id}"}, {"PATCH", "/media/{id}"}, {"DELETE", "/media/{id}"},
	{"POST", "/posts"}, {"GET", "/posts"}, {"GET", "/posts/{id}"}, {"PUT", "/posts/{id}"},
	{"DELETE", "/posts/{id}"}, {"PATCH", "/posts/{id}/stage/{stage}"},
}

// Handler returns the task handlers of every mediaflow task type, with the
// worker's middleware; Start serves them.
func (w *Worker) Handler() asynq.Handler { return w.mux }

// newMux routes every row of the step table to its handler.
func (w *Worker) newMux() *asynq.ServeMux {
	p := w.p
	mux := asynq.NewServeMux()
	// Outermost, so the metrics middleware's exemplars see the run's span.
	mux.Use(p.traced)
	if w.cfg.Metrics != nil {
		mux.Use(w.cfg.Metrics.TaskMiddleware(taskOutcome))
	}
	for i := range steps {
		row := &steps[i]
		if row.run != nil {
			mux.HandleFunc(row.typ, p.handler(row))
		}
	}
	mux.HandleFunc(TypeCleanupSweep, p.sweep)
	return mux
}

// Start begins processing; it returns once the worker is running. A second
// call does nothing.
func (w *Worker) Start() error {
	w.startOnce.Do(func() {
		// Publishing for a workspace is refused until a worker serves it.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := rdb.NewRegistry(w.cfg.Redis).SetNames(ctx, w.p.apis.names())
		cancel()
		if err != nil {
			w.startErr = err
			return
		}
		// A worker starts with keys that may have been fixed since a
		// refusal paused their workspace: a key in apiKeyEnv (or
		// SWONKIE_API_KEY, with no file to reload) changes only with a
		// restart. As a reload does, it resumes what a refusal paused (not
		// a pause by hand); a key still refused pauses it again. Without
		// this the pause, which has no expiry, held the workspace for good.
		ctx, cancel = context.WithTimeout(context.Background(), 5*time.Second)
		err = w.p.pauses.reloaded(ctx)
		cancel()
		if err != nil {
			w.p.log.Warn().Err(err).Msg("start: could not resume the workspaces a refused key paused; they stay paused until a reload or a resume")
		}
		for _, srv := range w.servers() {
			if err := srv.Start(w.mux); err != nil {
				for _, started := range w.servers() {
					if started == srv {
						break
					}
					started.Shutdown()
				}
				w.startErr = fmt.Errorf("start task server: %w", err)
				return
			}
		}
		w.p.cancels.start()
		w.p.pauses.start()
		if w.profiles != nil {
			w.profiles.start()
		}
		if w.sweeper != nil {
			w.sweeper.start()
		}
		for _, p := range w.pollers {
			p.Start()
		}
	})
	return w.startErr
}

// Shutdown stops taking tasks, waits up to ShutdownTimeout for running
// ones, and stops the sweep scheduler, the cancel listener and the
// pollers. A second call does nothing.
func (w *Worker) Shutdown() {
	w.stopOnce.Do(func() {
		if w.sweeper != nil {
			w.sweeper.shutdown()
		}
		// Side by side, so that stopping takes one ShutdownTimeout at most.
		var wg sync.WaitGroup
		for _, srv := range w.servers() {
			wg.Go(srv.Shutdown)
		}
		wg.Wait()
		w.p.cancels.shutdown()
		w.p.pauses.shutdown()
		if w.profiles != nil {
			w.profiles.shutdown()
		}
		for _, p := range w.pollers {
			p.Shutdown()
		}
		_ = w.insp.Close()
		_ = w.enq.Close()
	})
}

// servers are the worker's asynq servers, the task slots' first.
func (w *Worker) servers() []*asynq.Server {
	var out []*asynq.Server
	for _, s := range []*asynq.Server{w.server, w.notifier} {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// RunSweep runs one sweep's work now, outside any slot (tests, and an
// operator's `enqueue sweep --now`); it does not claim a slot.
func (w *Worker) RunSweep(ctx context.Context) (SweepResult, error) {
	res := SweepResult{Slot: "manual", Holder: w.cfg.Holder, StartedAt: w.p.now().UTC()}
	err := w.p.runSweep(ctx, &res)
	return res, err
}

// Ping checks what readiness needs: the store's scripts run, and asynq
// can read its queues.
func (w *Worker) Ping(ctx context.Context) error {
	if err := w.p.store.rdb.Ping(ctx); err != nil {
		return err
	}
	_, err := w.insp.Queues()
	return err
}

// pipelineStats feeds the pipeline gauges from the record indexes.
func (w *Worker) pipelineStats(ctx context.Context) (metrics.PipelineStats, error) {
	c, err := w.p.store.rdb.Count(ctx, w.p.now().Add(-w.p.timing.PendingKick))
	if err != nil {
		return metrics.PipelineStats{}, err
	}
	return metrics.PipelineStats{ByState: c.ByState, Stuck: c.Overdue, CleanupPending: c.CleanupOwed}, nil
}

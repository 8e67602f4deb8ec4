// Command worker runs mediaflow: the asynq task server that drives the
// Swonkie media lifecycle, the cleanup sweep scheduler, and the HTTP
// endpoints /metrics, /healthz and /readyz (plus the enqueue API when
// API_ADDR is set).
//
//	worker              run against the real Swonkie API (needs credentials)
//	worker -sandbox     run against an in-process Swonkie sandbox
//	worker -demo        publish the bundled samples end to end, print what happened, exit
//	worker -api-only    serve only the HTTP enqueue API
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/budget"
	"github.com/mediaflow/mediaflow/internal/redisurl"
	buildinfo "github.com/mediaflow/mediaflow/internal/version"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/tracing"
	"github.com/mediaflow/mediaflow/ui"
	"github.com/mediaflow/mediaflow/workspaces"
)

func main() {
	ownProcess = true
	os.Exit(run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// ownProcess is set by main only: process-wide settings (go-redis's one
// logger) are taken by the real program, never by tests that call run side
// by side, each with its own output.
var ownProcess bool

// run is the whole program; its exit code is what main exits with.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, err := parseConfig(args, getenv)
	if errors.Is(err, flag.ErrHelp) {
		writeHelp(stdout)
		return 0
	}
	if err == nil && cfg.Version {
		fmt.Fprintln(stdout, buildinfo.String("worker"))
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	if err := cfg.checkAPI(); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	tr, err := startTracing(ctx, cfg, getenv)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	defer stopTracing(tr, stderr)
	if cfg.Demo {
		return runDemo(ctx, cfg, getenv, stdout, stderr)
	}
	if cfg.needsCredentials() && cfg.Workspaces == nil {
		fmt.Fprintln(stderr, "worker: SWONKIE_API_ID and SWONKIE_API_KEY (or WORKSPACES_FILE) are required (or run with -sandbox to use the in-process sandbox)")
		return 2
	}
	if cfg.ListProfiles {
		return listProfiles(ctx, cfg, stdout, stderr)
	}
	log, err := newLogger(cfg.LogLevel, cfg.LogFormat, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 2
	}
	// Lines logged with a context inside a span carry its trace_id and
	// span_id.
	log = log.Hook(tracing.LogHook{})
	if ownProcess {
		redis.SetLogger(redisLogger{log})
	}
	var rc redis.UniversalClient
	embedded := cfg.Sandbox && getenv("REDIS_URL") == "" && !cfg.given["redis"] && !listening(embeddedRedisAddr)
	if embedded {
		// A trial of the sandbox on a machine with no Redis running: one
		// in this process, where REDIS_URL's default points, so enqueue
		// finds it too.
		var stopEmbedded func()
		if rc, stopEmbedded, err = embeddedRedis(embeddedRedisAddr); err == nil {
			defer stopEmbedded()
			log.Warn().Str("redis", "redis://"+embeddedRedisAddr+"/0").
				Msg("no Redis answers at REDIS_URL's default, so -sandbox runs an embedded one in this process: in memory, gone when the worker stops")
		}
	} else {
		rc, err = connectRedis(ctx, cfg.RedisURL)
	}
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	defer rc.Close()
	guard := redisGuard{rc: rc, allowEviction: cfg.RedisAllowEviction, embedded: embedded}
	if err := guard.checkAtStart(ctx, log); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	// Every address is bound before anything starts: a second worker on
	// the same host stops here, with a hint, rather than after asynq began
	// taking tasks.
	ls, err := listenAll(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	defer ls.close()

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	m := metrics.New(metrics.Options{Version: buildinfo.Number(), Commit: buildinfo.Revision()})
	redisStats := m.WatchRedis(guard.stats, 0)
	redisStats.Start()
	defer redisStats.Shutdown()
	st, err := startStack(ctx, cfg, rc, m, log, tasks.Timing{})
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	servers := []*http.Server{}
	if ls.metrics != nil {
		checks := append([]readyCheck{redisReady(rc), storeReady(st)}, guard.readyChecks()...)
		srv, _ := serve(ls.metrics, opsHandler(m, checks, log), cfg.APIMaxConns, log)
		servers = append(servers, srv)
	}
	var apiSrv *http.Server
	reload := newReloader(cfg, st, m, getenv, log)
	if ls.api != nil {
		var setTokens func([]workspaces.Token)
		if apiSrv, setTokens, err = startAPI(cfg, ls.api, st.client, rc, m, log); err != nil {
			for _, srv := range servers {
				_ = srv.Close()
			}
			st.shutdown()
			fmt.Fprintln(stderr, "worker:", err)
			return 1
		}
		reload.tokens = append(reload.tokens, setTokens)
	}
	reload.watchReloads(ctx)
	startLine(log, cfg, st, ls).Msg("worker started")

	<-ctx.Done()
	log.Info().Str("timeout", cfg.ShutdownTimeout.String()).Msg("shutting down: finishing running tasks")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout+5*time.Second)
	defer cancel()
	if apiSrv != nil {
		// Stop taking work first: requests in flight finish on a client
		// that is still open.
		_ = apiSrv.Shutdown(shutdownCtx)
	}
	st.shutdown()
	for _, srv := range servers {
		_ = srv.Shutdown(shutdownCtx)
	}
	log.Info().Msg("worker stopped")
	return 0
}

// listeners are the worker's addresses, bound before it starts.
type listeners struct{ metrics, api net.Listener }

func listenAll(cfg *config) (*listeners, error) {
	ls := &listeners{}
	var err error
	if cfg.MetricsAddr != "" {
		if ls.metrics, err = listen("METRICS_ADDR", cfg.MetricsAddr); err != nil {
			return nil, err
		}
	}
	if cfg.APIAddr != "" {
		if ls.api, err = listen("API_ADDR", cfg.APIAddr); err != nil {
			ls.close()
			return nil, err
		}
	}
	return ls, nil
}

// close gives the addresses back; closing a listener a server already
// closed does nothing.
func (ls *listeners) close() {
	for _, l := range []net.Listener{ls.metrics, ls.api} {
		if l != nil {
			_ = l.Close()
		}
	}
}

// startLine is the "worker started" line: where everything the worker
// serves and uses is, so that a newcomer reading it knows what to open.
func startLine(log zerolog.Logger, cfg *config, st *stack, ls *listeners) *zerolog.Event {
	ev := log.Info().Str("version", buildinfo.Number()).Str("redis", redactedURL(cfg.RedisURL))
	switch {
	case st.api == nil:
		ev = ev.Str("swonkie", "none (-api-only)")
	case st.sandbox != nil:
		ev = ev.Str("swonkie", st.api.BaseURL()+" (in-process sandbox)")
	default:
		ev = ev.Str("swonkie", st.api.BaseURL())
	}
	if ls.metrics != nil {
		ev = ev.Str("metrics", httpURL(ls.metrics, "/metrics"))
	} else {
		ev = ev.Str("metrics", "off")
	}
	if ls.api != nil {
		ev = ev.Str("api", httpURL(ls.api, "/v1/pipelines")).Str("page", httpURL(ls.api, ui.Prefix))
	} else {
		ev = ev.Str("api", "off (set API_ADDR)")
	}
	if cfg.MediaRoot != "" {
		root, err := filepath.Abs(cfg.MediaRoot)
		if err != nil {
			root = cfg.MediaRoot
		}
		ev = ev.Str("media_root", root)
	} else {
		ev = ev.Str("media_root", "unset: local files are refused")
	}
	if !cfg.APIOnly {
		ev = ev.Int("concurrency", cfg.Concurrency).Int("webhook_concurrency", cfg.WebhookConcurrency)
	}
	return ev
}

// stack is a running worker and what it stands on.
type stack struct {
	api        *swonkie.Client
	sources    *source.Opener
	worker     *tasks.Worker
	client     *tasks.Client
	sandbox    *sandbox.Server
	sandboxSrv *http.Server
	// apis are every workspace's client by name; api is the first one's.
	apis map[string]*swonkie.Client
	// sandboxes are the in-process sandbox's workspaces; sandbox is the
	// first one.
	sandboxes *sandbox.Workspaces
	// redis, when set, carries the fleet-wide Swonkie budgets, one per
	// workspace.
	redis   redis.UniversalClient
	budgets []*budget.Fleet
}

// startStack wires the Swonkie client (or the in-process sandbox), the
// media sources and the task worker, and starts them. The demo uses it
// with faster timing.
func startStack(ctx context.Context, cfg *config, rc redis.UniversalClient, m *metrics.Metrics, log zerolog.Logger, timing tasks.Timing) (*stack, error) {
	st := &stack{}
	sources, err := source.New(cfg.sourceConfig())
	if err != nil {
		return nil, fmt.Errorf("media sources: %w", err)
	}
	st.sources = sources
	rules, err := publishrules.Load(cfg.PublishRulesFile)
	if err != nil {
		return nil, err
	}
	copts := []tasks.ClientOption{tasks.WithSources(sources), tasks.WithTiming(timing),
		tasks.WithTracerProvider(cfg.tracerProvider()), tasks.WithRules(rules)}
	if !cfg.Preflight {
		copts = append(copts, tasks.WithoutPreflight())
	}
	st.client = tasks.NewClient(rc, copts...)
	if cfg.APIOnly {
		// A front process only queues work: it never calls Swonkie, so it
		// needs no credentials and no sandbox.
		return st, nil
	}
	st.redis = rc
	if err := st.connectSwonkie(cfg, m, log); err != nil {
		st.shutdown()
		return nil, err
	}
	timing.Retention, timing.StuckAfter, timing.PendingKick = cfg.Retention, cfg.StuckAfter, cfg.PendingKickAfter
	secrets, err := tasks.ParseWebhookSecrets(cfg.WebhookSecret)
	if err != nil {
		st.shutdown()
		return nil, err
	}
	if cfg.WebhookURL != "" {
		if err := sources.CheckEndpoint(cfg.WebhookURL); err != nil {
			st.shutdown()
			return nil, fmt.Errorf("WEBHOOK_URL %s: %w", tasks.RedactSource(cfg.WebhookURL), err)
		}
	}
	if st.sandbox != nil {
		// Before any task runs, so the warning comes before the failures
		// it explains.
		warnForeignRecords(ctx, st.client, st.sandbox, log)
	}
	w, err := tasks.NewWorker(tasks.WorkerConfig{
		WebhookURL:         cfg.WebhookURL,
		WebhookSecrets:     secrets,
		WebhookRetryFor:    cfg.WebhookRetryFor,
		WebhookConcurrency: cfg.WebhookConcurrency,
		Redis:              rc,
		API:                st.api,
		Workspaces:         st.apis,
		MaxActive:          maxActiveOf(cfg.Workspaces),
		Sources:            sources,
		Metrics:            m,
		Logger:             log,
		Concurrency:        cfg.Concurrency,
		Queues:             cfg.Queues,
		ShutdownTimeout:    cfg.ShutdownTimeout,
		SweepSchedule:      cfg.SweepSchedule,
		Timing:             timing,
		TracerProvider:     cfg.tracerProvider(),
		Rules:              rules,
		ProfileRefresh:     cfg.ProfileRefresh,
	})
	if err != nil {
		st.shutdown()
		return nil, err
	}
	if err := w.Start(); err != nil {
		st.shutdown()
		return nil, err
	}
	st.worker = w
	return st, nil
}

func (st *stack) shutdown() {
	if st.worker != nil {
		st.worker.Shutdown()
	}
	for _, b := range st.budgets {
		b.Close()
	}
	if st.client != nil {
		_ = st.client.Close()
	}
	if st.sandboxSrv != nil {
		_ = st.sandboxSrv.Close()
	}
}

// Credentials of the in-process sandbox; it is reachable from this process
// only (127.0.0.1 on a random port).
const (
	sandboxID  = "mediaflow-sandbox"
	sandboxKey = "mediaflow-sandbox-key"
)

func sandboxOptions(demo bool) sandbox.Options {
	o := sandbox.Options{
		APIID:           sandboxID,
		APIKey:          sandboxKey,
		Seed:            1,
		ProcessingDelay: 2 * time.Second,
		PublishDelay:    3 * time.Second,
	}
	if demo {
		// A few of the faults the worker is built for, so the demo shows
		// retries; the seed makes them the same on every run.
		o.ProcessingDelay, o.PublishDelay = 1500*time.Millisecond, 2*time.Second
		o.Faults = sandbox.FaultPlan{
			"POST /media": {Error5xx: 0.15},
			"POST /posts": {RateLimit: 0.3, RetryAfter: time.Second},
		}
	}
	return o
}

// connectRedis opens the shared Redis client and checks it answers, so a
// wrong URL fails the start with one clear line instead of a stream of
// retries.
func connectRedis(ctx context.Context, raw string) (redis.UniversalClient, error) {
	rc, err := redisurl.NewClient(raw)
	if err != nil {
		return nil, fmt.Errorf("REDIS_URL %s: %v", redactedURL(raw), err)
	}
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := rc.Ping(pctx).Err(); err != nil {
		_ = rc.Close()
		return nil, fmt.Errorf("cannot reach Redis at %s: %v", redactedURL(raw), err)
	}
	return rc, nil
}

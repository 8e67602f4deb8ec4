package main

import (
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
	"github.com/mediaflow/mediaflow/ui"
)

// config is the worker's configuration: every setting has an environment
// variable and a flag, and a flag given on the command line wins.
type config struct {
	RedisURL           string
	SwonkieBaseURL     string
	SwonkieAPIID       string
	SwonkieAPIKey      string
	SwonkieRateLimit   float64
	SwonkieRateBurst   int
	UploadTimeout      time.Duration
	AllowedUploadHosts string
	MetricsAddr        string
	LogLevel           string
	LogFormat          string
	MediaRoot          string
	AllowedSourceHosts string
	Concurrency        int
	Queues             map[string]int
	ShutdownTimeout    time.Duration
	SweepSchedule      string
	APIAddr            string
	APITokens          string
	APIMaxBody         int64
	APIRateLimit       float64
	APIMaxConns        int
	AuthFailureLimit   int
	TrustedProxies     string
	SpoolDir           string
	SpoolMaxBytes      int64
	SourceMinRate      int64
	SourceRateWindow   time.Duration
	Retention          time.Duration
	StuckAfter         time.Duration
	PendingKickAfter   time.Duration
	WebhookURL         string
	WebhookSecret      string
	WebhookRetryFor    time.Duration
	TraceURLTemplate   string
	WebhookConcurrency int
	RedisAllowEviction bool

	Sandbox      bool
	Demo         bool
	APIOnly      bool
	ListProfiles bool
	Version      bool

	// given lists the flags set on the command line.
	given map[string]bool
	// tracing is what the OTEL_* variables set up (startTracing); every
	// part of the program is handed its provider, never the global one.
	tracing *tracingsdk.Tracing
}

// parseConfig reads the environment (getenv) and then args.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	var errs []string
	envInt := func(name string, def int) int {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a whole number", name, v))
			return def
		}
		return n
	}
	envFloat := func(name string, def float64) float64 {
		v := getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseFloat(v, 64)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a number", name, v))
			return def
		}
		return n
	}
	envDur := func(name string, def time.Duration) time.Duration {
		v := getenv(name)
		if v == "" {
			return def
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not a duration (like 30s)", name, v))
			return def
		}
		return d
	}

	fs.StringVar(&c.RedisURL, "redis", env("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL: redis://, rediss://, unix://, redis[s]-sentinel:// or redis[s]-cluster:// (env REDIS_URL)")
	fs.StringVar(&c.SwonkieBaseURL, "swonkie-url", env("SWONKIE_BASE_URL", swonkie.DefaultBaseURL), "Swonkie API base URL (env SWONKIE_BASE_URL)")
	fs.StringVar(&c.SwonkieAPIID, "api-id", env("SWONKIE_API_ID", ""), "Swonkie App ID (env SWONKIE_API_ID; prefer the environment: flags show in ps)")
	fs.StringVar(&c.SwonkieAPIKey, "api-key", env("SWONKIE_API_KEY", ""), "Swonkie API key (env SWONKIE_API_KEY; prefer the environment: flags show in ps)")
	fs.Float64Var(&c.SwonkieRateLimit, "rate-limit", envFloat("SWONKIE_RATE_LIMIT", float64(swonkie.DefaultRateLimit)), "Swonkie API calls per second for the whole fleet: every worker on this Redis shares them (env SWONKIE_RATE_LIMIT)")
	fs.IntVar(&c.SwonkieRateBurst, "rate-burst", envInt("SWONKIE_RATE_BURST", swonkie.DefaultBurst), "Swonkie API calls the fleet may send at once on top of the rate (env SWONKIE_RATE_BURST)")
	fs.DurationVar(&c.UploadTimeout, "upload-response-timeout", envDur("UPLOAD_RESPONSE_TIMEOUT", swonkie.DefaultUploadResponseTimeout), "how long storage may take to answer once an upload's last byte is sent (env UPLOAD_RESPONSE_TIMEOUT)")
	fs.StringVar(&c.AllowedUploadHosts, "allowed-upload-hosts", env("ALLOWED_UPLOAD_HOSTS", ""), "comma-separated upload URL hosts that may resolve to private addresses (env ALLOWED_UPLOAD_HOSTS)")
	fs.StringVar(&c.MetricsAddr, "metrics-addr", env("METRICS_ADDR", defaultMetricsAddr), "address of /metrics, /healthz and /readyz; \"off\" turns them off (env METRICS_ADDR)")
	fs.StringVar(&c.LogLevel, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (env LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("LOG_FORMAT", "json"), "json or console (env LOG_FORMAT)")
	fs.StringVar(&c.MediaRoot, "media-root", env("MEDIA_ROOT", ""), "the only folder local media files may come from; empty refuses local files (env MEDIA_ROOT)")
	fs.StringVar(&c.AllowedSourceHosts, "allowed-source-hosts", env("ALLOWED_SOURCE_HOSTS", ""), "comma-separated hosts media URLs may use even if they resolve to private addresses (env ALLOWED_SOURCE_HOSTS)")
	fs.IntVar(&c.Concurrency, "concurrency", envInt("CONCURRENCY", 20), "tasks run at once (env CONCURRENCY)")
	queues := fs.String("queues", env("QUEUES", defaultQueues), "queues this worker serves with their priority weights (env QUEUES)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", envDur("SHUTDOWN_TIMEOUT", 30*time.Second), "how long a stopping worker waits for running tasks (env SHUTDOWN_TIMEOUT)")
	fs.StringVar(&c.SweepSchedule, "sweep", env("SWEEP_SCHEDULE", tasks.DefaultSweepSchedule), `cleanup sweep schedule: "@every 10m", a cron expression, or "off" (env SWEEP_SCHEDULE)`)
	fs.StringVar(&c.APIAddr, "api-addr", env("API_ADDR", ""), "address of the HTTP enqueue API; empty turns it off (env API_ADDR)")
	fs.StringVar(&c.APITokens, "api-tokens", env("API_TOKENS", ""), "comma-separated bearer tokens the HTTP API accepts (env API_TOKENS; prefer the environment)")
	fs.Int64Var(&c.APIMaxBody, "api-max-body", int64(envInt("API_MAX_BODY", 1<<20)), "largest HTTP API request body in bytes (env API_MAX_BODY)")
	fs.Float64Var(&c.APIRateLimit, "api-rate-limit", envFloat("API_RATE_LIMIT", 0), "HTTP API requests per second per token; 0 is unlimited (env API_RATE_LIMIT)")
	fs.IntVar(&c.AuthFailureLimit, "auth-failure-limit", envInt("AUTH_FAILURE_LIMIT", authlimit.DefaultPerMinute), "failed authentications (API tokens and page logins together) a client address may make a minute before it is refused with 429; 0 refuses none (env AUTH_FAILURE_LIMIT)")
	fs.StringVar(&c.TrustedProxies, "api-trusted-proxies", env("API_TRUSTED_PROXIES", ""), "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For names the client; empty believes none (env API_TRUSTED_PROXIES)")
	fs.IntVar(&c.APIMaxConns, "api-max-conns", envInt("API_MAX_CONNS", defaultMaxConns), "connections each HTTP server (API, metrics) holds at once; idle ones are closed first to make room (env API_MAX_CONNS)")
	fs.StringVar(&c.SpoolDir, "spool-dir", env("SPOOL_DIR", ""), "where media URLs without a length are spooled before upload; empty is the system temp dir (env SPOOL_DIR)")
	fs.Int64Var(&c.SpoolMaxBytes, "spool-max-bytes", int64(envInt("SPOOL_MAX_BYTES", 4<<30)), "bytes all spooled sources may hold at once (env SPOOL_MAX_BYTES)")
	fs.Int64Var(&c.SourceMinRate, "source-min-rate", int64(envInt("SOURCE_MIN_RATE", 64<<10)), "bytes per second below which a media URL is cut; 0 turns the check off (env SOURCE_MIN_RATE)")
	fs.DurationVar(&c.SourceRateWindow, "source-rate-window", envDur("SOURCE_RATE_WINDOW", 30*time.Second), "time SOURCE_MIN_RATE is averaged over (env SOURCE_RATE_WINDOW)")
	fs.DurationVar(&c.Retention, "retention", envDur("RETENTION", tasks.DefaultTiming.Retention), "how long finished pipeline records (and their idempotency keys) are kept (env RETENTION)")
	fs.DurationVar(&c.StuckAfter, "stuck-after", envDur("STUCK_AFTER", tasks.DefaultTiming.StuckAfter), "a pipeline none of whose tasks exists, even after the sweep enqueued them again, is failed once it made no progress for this long (env STUCK_AFTER)")
	fs.DurationVar(&c.PendingKickAfter, "pending-kick-after", envDur("PENDING_KICK_AFTER", tasks.DefaultTiming.PendingKick), "how long the sweep leaves a pipeline alone before it checks that its tasks exist (env PENDING_KICK_AFTER)")
	fs.StringVar(&c.WebhookURL, "webhook-url", env("WEBHOOK_URL", ""), "where pipeline events go for requests that name no webhook of their own; empty sends none (env WEBHOOK_URL)")
	fs.StringVar(&c.WebhookSecret, "webhook-secret", env("WEBHOOK_SECRET", ""), "whsec_… secrets signing webhooks, space-separated while rotating (env WEBHOOK_SECRET; prefer the environment)")
	fs.StringVar(&c.TraceURLTemplate, "trace-url-template", env("TRACE_URL_TEMPLATE", ""), "a trace's page in your tracing UI, {traceId} standing for the id (Jaeger: http://jaeger:16686/trace/{traceId}); the pipelines page links each pipeline to its trace (env TRACE_URL_TEMPLATE)")
	fs.DurationVar(&c.WebhookRetryFor, "webhook-retry-for", envDur("WEBHOOK_RETRY_FOR", 24*time.Hour), "how long a webhook event is retried before it is given up (env WEBHOOK_RETRY_FOR)")
	fs.IntVar(&c.WebhookConcurrency, "webhook-concurrency", envInt("WEBHOOK_CONCURRENCY", tasks.DefaultWebhookConcurrency), "webhook deliveries run at once, in slots of their own apart from CONCURRENCY (env WEBHOOK_CONCURRENCY)")
	envBool := func(name string) bool {
		v := getenv(name)
		if v == "" {
			return false
		}
		b, err := strconv.ParseBool(v)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s=%q is not true or false", name, v))
		}
		return b
	}
	fs.BoolVar(&c.RedisAllowEviction, "redis-allow-eviction", envBool("REDIS_ALLOW_EVICTION"), "run even though Redis's maxmemory-policy may evict pipeline records and tasks (not noeviction); loudly (env REDIS_ALLOW_EVICTION)")
	fs.BoolVar(&c.Sandbox, "sandbox", false, "run against an in-process Swonkie sandbox instead of the real API (no credentials needed)")
	fs.BoolVar(&c.Demo, "demo", false, "publish the bundled sample images through the whole lifecycle and exit (embedded Redis unless REDIS_URL is set)")
	fs.BoolVar(&c.APIOnly, "api-only", false, "serve only the HTTP enqueue API, run no tasks")
	fs.BoolVar(&c.ListProfiles, "profiles", false, "print the workspace's connected profiles (the ids publish requests name) and exit")
	fs.BoolVar(&c.Version, "version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if c.Version {
		// Asking which build this is must work whatever else is wrong
		// with the configuration.
		return c, nil
	}
	c.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with -)", fs.Arg(0))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	switch c.LogFormat {
	case "json", "console":
	default:
		return nil, fmt.Errorf("log format %q: want json or console", c.LogFormat)
	}
	q, err := parseQueues(*queues)
	if err != nil {
		return nil, err
	}
	c.Queues = q
	if c.SpoolMaxBytes < 1 {
		return nil, fmt.Errorf("spool max bytes %d: want at least 1", c.SpoolMaxBytes)
	}
	if c.SourceMinRate < 0 || c.SourceRateWindow <= 0 {
		return nil, fmt.Errorf("source min rate %d over %s: want a rate of 0 (off) or more over a positive window", c.SourceMinRate, c.SourceRateWindow)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"RETENTION", c.Retention}, {"STUCK_AFTER", c.StuckAfter}, {"PENDING_KICK_AFTER", c.PendingKickAfter}, {"WEBHOOK_RETRY_FOR", c.WebhookRetryFor}} {
		if d.v < time.Second {
			return nil, fmt.Errorf("%s %s: want a duration of at least 1s", d.name, d.v)
		}
	}
	if _, err := tasks.ParseWebhookSecrets(c.WebhookSecret); err != nil {
		return nil, err
	}
	if err := ui.CheckTraceURL(c.TraceURLTemplate); err != nil {
		return nil, fmt.Errorf("TRACE_URL_TEMPLATE: %w", err)
	}
	if c.AuthFailureLimit < 0 {
		return nil, fmt.Errorf("auth failure limit %d: want 0 (no limit) or more failures a minute", c.AuthFailureLimit)
	}
	if _, err := authlimit.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return nil, fmt.Errorf("API_TRUSTED_PROXIES: %w", err)
	}
	if c.APIMaxConns < 1 {
		return nil, fmt.Errorf("api max conns %d: want at least 1", c.APIMaxConns)
	}
	if c.Concurrency < 1 {
		return nil, fmt.Errorf("concurrency %d: want at least 1", c.Concurrency)
	}
	if c.WebhookConcurrency < 1 {
		return nil, fmt.Errorf("webhook concurrency %d: want at least 1", c.WebhookConcurrency)
	}
	if c.SwonkieRateLimit <= 0 || c.SwonkieRateBurst < 1 {
		return nil, fmt.Errorf("swonkie rate limit %v and burst %d: want a rate above 0 and a burst of at least 1", c.SwonkieRateLimit, c.SwonkieRateBurst)
	}
	return c, nil
}

// defaultMetricsAddr keeps /metrics on loopback unless asked otherwise: it
// needs no token, and what it shows (queue sizes, error rates) is for
// operators. Containers set METRICS_ADDR=:9400 inside their own network.
const defaultMetricsAddr = "127.0.0.1:9400"

// needsCredentials: only the real API needs them.
func (c *config) needsCredentials() bool { return !c.Sandbox && !c.Demo && !c.APIOnly }

// sourceConfig is where media may come from and what it may cost.
func (c *config) sourceConfig() source.Config {
	minRate := c.SourceMinRate
	if minRate == 0 {
		minRate = -1 // off; source.Config's 0 means the default
	}
	return source.Config{
		Root:            c.MediaRoot,
		AllowedHosts:    c.allowedHosts(),
		SpoolDir:        c.SpoolDir,
		SpoolTotalBytes: c.SpoolMaxBytes,
		MinRate:         minRate,
		RateWindow:      c.SourceRateWindow,
	}
}

func (c *config) allowedHosts() []string { return splitHosts(c.AllowedSourceHosts) }

func splitHosts(list string) []string {
	var out []string
	for _, h := range strings.Split(list, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// defaultQueues serves every mediaflow queue, publishing first.
var defaultQueues = tasks.QueuePipeline + "=6," + tasks.QueueCleanup + "=1," + tasks.QueueNotify + "=1"

// parseQueues reads "name=weight,name=weight". A worker may serve only
// some queues (a cleanup-only replica, say); it must serve at least one of
// mediaflow's.
func parseQueues(spec string) (map[string]int, error) {
	out := map[string]int{}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, w, ok := strings.Cut(part, "=")
		n, err := strconv.Atoi(strings.TrimSpace(w))
		if !ok || err != nil || n < 1 || strings.TrimSpace(name) == "" {
			return nil, fmt.Errorf("queues %q: want name=weight pairs with weights of at least 1, like %s", spec, defaultQueues)
		}
		out[strings.TrimSpace(name)] = n
	}
	if out[tasks.QueuePipeline] == 0 && out[tasks.QueueCleanup] == 0 {
		return nil, fmt.Errorf("queues %q: serves neither %s nor %s", spec, tasks.QueuePipeline, tasks.QueueCleanup)
	}
	return out, nil
}

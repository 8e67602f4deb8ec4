package main

import (
	"errors"
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
	"github.com/mediaflow/mediaflow/workspaces"
)

// config is the worker's configuration: every setting has an environment
// variable and a flag (see settings), and a flag given on the command line
// wins.
type config struct {
	RedisURL           string
	SwonkieBaseURL     string
	SwonkieAPIID       string
	SwonkieAPIKey      string
	WorkspacesFile     string
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
	QueueSpec          string
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
	WebhookConcurrency int
	RedisAllowEviction bool
	TraceURLTemplate   string
	PublishRulesFile   string
	Preflight          bool
	ProfileRefresh     time.Duration

	Sandbox      bool
	Demo         bool
	APIOnly      bool
	ListProfiles bool
	Version      bool

	// Workspaces are the Swonkie workspaces the worker publishes for: the
	// workspaces file's, or the one SWONKIE_API_ID and SWONKIE_API_KEY
	// name (called "default"); nil until the credentials are known
	// (loadWorkspaces).
	Workspaces *workspaces.Config

	// given lists the flags set on the command line.
	given map[string]bool
	// tracing is what the OTEL_* variables set up (startTracing); every
	// part of the program is handed its provider, never the global one.
	tracing *tracingsdk.Tracing
}

// settings is every setting of the worker, in the order -help shows them.
// Adding a setting is adding one entry here (and its field to config):
// the flag, the environment variable, the default, -help and the lower
// bound all come from the entry.
var settings = []setting{
	{group: groupModes, flag: "sandbox", field: func(c *config) any { return &c.Sandbox },
		usage: "run against an in-process Swonkie sandbox instead of the real API (no credentials needed; an embedded Redis when REDIS_URL is unset and none answers at its default)"},
	{group: groupModes, flag: "demo", field: func(c *config) any { return &c.Demo },
		usage: "publish the bundled sample images through the whole lifecycle against the sandbox and exit (embedded Redis unless REDIS_URL is set)"},
	{group: groupModes, flag: "profiles", field: func(c *config) any { return &c.ListProfiles },
		usage: "print the workspace's connected profiles (the ids publish requests name) and exit"},
	{group: groupModes, flag: "api-only", field: func(c *config) any { return &c.APIOnly },
		usage: "serve only the HTTP enqueue API and the pipelines page, run no tasks (needs API_ADDR)"},
	{group: groupModes, flag: "version", field: func(c *config) any { return &c.Version },
		usage: "print the version and exit"},

	{group: groupConnections, flag: "redis", env: "REDIS_URL", def: "redis://127.0.0.1:6379/0", arg: "URL", field: func(c *config) any { return &c.RedisURL },
		usage: "Redis: redis://, rediss://, unix://, redis[s]-sentinel:// or redis[s]-cluster://"},
	{group: groupConnections, flag: "swonkie-url", env: "SWONKIE_BASE_URL", def: swonkie.DefaultBaseURL, arg: "URL", field: func(c *config) any { return &c.SwonkieBaseURL },
		usage: "Swonkie API base URL (a sandbox's URL goes here)"},
	{group: groupConnections, flag: "api-id", env: "SWONKIE_API_ID", arg: "ID", secret: true, field: func(c *config) any { return &c.SwonkieAPIID },
		usage: "Swonkie App ID; required unless -sandbox, -demo or -api-only"},
	{group: groupConnections, flag: "api-key", env: "SWONKIE_API_KEY", arg: "KEY", secret: true, field: func(c *config) any { return &c.SwonkieAPIKey },
		usage: "Swonkie API key; required unless -sandbox, -demo or -api-only"},
	{group: groupConnections, flag: "workspaces-file", env: "WORKSPACES_FILE", arg: "FILE", field: func(c *config) any { return &c.WorkspacesFile },
		usage: "JSON file of the Swonkie workspaces to publish for (name, apiId, apiKeyEnv or apiKeyFile, baseUrl, rateLimit, rateBurst, maxActive) and of API tokens scoped to them; instead of SWONKIE_API_ID and SWONKIE_API_KEY; SIGHUP reloads it"},
	{group: groupConnections, flag: "upload-response-timeout", env: "UPLOAD_RESPONSE_TIMEOUT", def: durationText(swonkie.DefaultUploadResponseTimeout), field: func(c *config) any { return &c.UploadTimeout },
		usage: "how long storage may take to answer once an upload's last byte is sent"},
	{group: groupConnections, flag: "allowed-upload-hosts", env: "ALLOWED_UPLOAD_HOSTS", arg: "HOSTS", field: func(c *config) any { return &c.AllowedUploadHosts },
		usage: "comma-separated upload URL hosts that may resolve to private addresses (a storage emulator)"},

	{group: groupConnections, flag: "redis-allow-eviction", env: "REDIS_ALLOW_EVICTION", def: "false", field: func(c *config) any { return &c.RedisAllowEviction },
		usage: "run even though Redis's maxmemory-policy may evict pipeline records and tasks (not noeviction); loudly"},

	{group: groupLimits, flag: "concurrency", env: "CONCURRENCY", def: "20", min: "1", field: func(c *config) any { return &c.Concurrency },
		usage: "tasks run at once"},
	{group: groupLimits, flag: "queues", env: "QUEUES", def: defaultQueues, arg: "LIST", field: func(c *config) any { return &c.QueueSpec },
		usage: "queues this worker serves with their priority weights"},
	{group: groupLimits, flag: "rate-limit", env: "SWONKIE_RATE_LIMIT", def: fmt.Sprint(float64(swonkie.DefaultRateLimit)), field: func(c *config) any { return &c.SwonkieRateLimit },
		usage: "Swonkie API calls per second for the whole fleet: every worker on this Redis shares them"},
	{group: groupLimits, flag: "rate-burst", env: "SWONKIE_RATE_BURST", def: fmt.Sprint(swonkie.DefaultBurst), min: "1", field: func(c *config) any { return &c.SwonkieRateBurst },
		usage: "Swonkie API calls the fleet may send at once on top of the rate"},
	{group: groupLimits, flag: "shutdown-timeout", env: "SHUTDOWN_TIMEOUT", def: "30s", field: func(c *config) any { return &c.ShutdownTimeout },
		usage: "how long a stopping worker waits for running tasks"},

	{group: groupMedia, flag: "media-root", env: "MEDIA_ROOT", arg: "DIR", field: func(c *config) any { return &c.MediaRoot },
		usage: "the only folder local media files may come from; unset refuses local files"},
	{group: groupMedia, flag: "allowed-source-hosts", env: "ALLOWED_SOURCE_HOSTS", arg: "HOSTS", field: func(c *config) any { return &c.AllowedSourceHosts },
		usage: "comma-separated hosts media and webhook URLs may use even if they resolve to private addresses"},
	{group: groupMedia, flag: "spool-dir", env: "SPOOL_DIR", arg: "DIR", shownDef: "the system temp dir", field: func(c *config) any { return &c.SpoolDir },
		usage: "where media URLs without a length are spooled before upload"},
	{group: groupMedia, flag: "spool-max-bytes", env: "SPOOL_MAX_BYTES", def: fmt.Sprint(4 << 30), min: "1", field: func(c *config) any { return &c.SpoolMaxBytes },
		usage: "bytes all spooled sources may hold at once"},
	{group: groupMedia, flag: "source-min-rate", env: "SOURCE_MIN_RATE", def: fmt.Sprint(64 << 10), min: "0", field: func(c *config) any { return &c.SourceMinRate },
		usage: "bytes per second below which a media URL is cut; 0 turns the check off"},
	{group: groupMedia, flag: "source-rate-window", env: "SOURCE_RATE_WINDOW", def: "30s", min: "1s", field: func(c *config) any { return &c.SourceRateWindow },
		usage: "time SOURCE_MIN_RATE is averaged over"},

	{group: groupPipelines, flag: "sweep", env: "SWEEP_SCHEDULE", def: tasks.DefaultSweepSchedule, arg: "SCHEDULE", field: func(c *config) any { return &c.SweepSchedule },
		usage: `cleanup sweep schedule: "@every 10m", a cron expression, or "off"`},
	{group: groupPipelines, flag: "retention", env: "RETENTION", def: durationText(tasks.DefaultTiming.Retention), min: "1s", field: func(c *config) any { return &c.Retention },
		usage: "how long finished pipeline records (and their idempotency keys) are kept"},
	{group: groupPipelines, flag: "stuck-after", env: "STUCK_AFTER", def: durationText(tasks.DefaultTiming.StuckAfter), min: "1s", field: func(c *config) any { return &c.StuckAfter },
		usage: "a pipeline none of whose tasks exists, even after the sweep enqueued them again, fails once it made no progress for this long"},
	{group: groupPipelines, flag: "pending-kick-after", env: "PENDING_KICK_AFTER", def: durationText(tasks.DefaultTiming.PendingKick), min: "1s", field: func(c *config) any { return &c.PendingKickAfter },
		usage: "how long the sweep leaves a pipeline alone before it checks that its tasks exist"},
	{group: groupPipelines, flag: "preflight", env: "PREFLIGHT", def: "true", field: func(c *config) any { return &c.Preflight },
		usage: "start every pipeline with pre-flight: probe the media, check profiles and network rules before anything is created"},
	{group: groupPipelines, flag: "publish-rules-file", env: "PUBLISH_RULES_FILE", arg: "FILE", field: func(c *config) any { return &c.PublishRulesFile },
		usage: "a JSON table of network publishing rules laid over the built-in one, row by row (networks change their limits)"},
	{group: groupPipelines, flag: "profile-refresh", env: "PROFILE_REFRESH", def: durationText(tasks.DefaultProfileRefresh), min: "1s", field: func(c *config) any { return &c.ProfileRefresh },
		usage: "how often each served workspace's profile directory is fetched from Swonkie into Redis, where enqueuers check profiles"},

	{group: groupAPI, flag: "api-addr", env: "API_ADDR", arg: "ADDR", field: func(c *config) any { return &c.APIAddr },
		usage: "address of the HTTP enqueue API and the pipelines page (/ui/), like 127.0.0.1:8080; unset turns them off"},
	{group: groupAPI, flag: "api-tokens", env: "API_TOKENS", arg: "TOKENS", secret: true, field: func(c *config) any { return &c.APITokens },
		usage: "comma-separated bearer tokens the API and the page accept; required with API_ADDR"},
	{group: groupAPI, flag: "api-max-body", env: "API_MAX_BODY", def: fmt.Sprint(1 << 20), min: "0", field: func(c *config) any { return &c.APIMaxBody },
		usage: "largest API request body in bytes"},
	{group: groupAPI, flag: "api-rate-limit", env: "API_RATE_LIMIT", def: "0", min: "0", field: func(c *config) any { return &c.APIRateLimit },
		usage: "API requests per second per token; 0 is unlimited"},
	{group: groupAPI, flag: "auth-failure-limit", env: "AUTH_FAILURE_LIMIT", def: fmt.Sprint(authlimit.DefaultPerMinute), min: "0", field: func(c *config) any { return &c.AuthFailureLimit },
		usage: "failed authentications (API tokens and page logins together) a client address may make a minute before it is refused with 429; 0 refuses none"},
	{group: groupAPI, flag: "api-trusted-proxies", env: "API_TRUSTED_PROXIES", arg: "LIST", field: func(c *config) any { return &c.TrustedProxies },
		usage: "comma-separated addresses or CIDR prefixes of reverse proxies whose X-Forwarded-For names the client; unset believes none"},
	{group: groupAPI, flag: "api-max-conns", env: "API_MAX_CONNS", def: fmt.Sprint(defaultMaxConns), min: "1", field: func(c *config) any { return &c.APIMaxConns },
		usage: "connections each HTTP server (API, metrics) holds at once; idle ones are closed first to make room"},

	{group: groupWebhooks, flag: "webhook-url", env: "WEBHOOK_URL", arg: "URL", field: func(c *config) any { return &c.WebhookURL },
		usage: "where pipeline events go for requests that name no webhook of their own; unset sends none"},
	{group: groupWebhooks, flag: "webhook-secret", env: "WEBHOOK_SECRET", arg: "SECRETS", secret: true, field: func(c *config) any { return &c.WebhookSecret },
		usage: "whsec_… secrets signing webhooks, space-separated while rotating"},
	{group: groupWebhooks, flag: "webhook-concurrency", env: "WEBHOOK_CONCURRENCY", def: fmt.Sprint(tasks.DefaultWebhookConcurrency), min: "1", field: func(c *config) any { return &c.WebhookConcurrency },
		usage: "webhook deliveries run at once, in slots of their own apart from CONCURRENCY"},
	{group: groupWebhooks, flag: "webhook-retry-for", env: "WEBHOOK_RETRY_FOR", def: "24h", min: "1s", field: func(c *config) any { return &c.WebhookRetryFor },
		usage: "how long a webhook event is retried before it is given up"},

	{group: groupObservability, flag: "metrics-addr", env: "METRICS_ADDR", def: defaultMetricsAddr, arg: "ADDR", field: func(c *config) any { return &c.MetricsAddr },
		usage: `address of /metrics, /healthz and /readyz; "off" turns them off`},
	{group: groupObservability, flag: "log-level", env: "LOG_LEVEL", def: "info", arg: "LEVEL", field: func(c *config) any { return &c.LogLevel },
		usage: "debug, info, warn or error"},
	{group: groupObservability, flag: "log-format", env: "LOG_FORMAT", arg: "FORMAT", shownDef: "console on a terminal, else json", field: func(c *config) any { return &c.LogFormat },
		usage: "json or console"},
	{group: groupObservability, flag: "trace-url-template", env: "TRACE_URL_TEMPLATE", arg: "URL", field: func(c *config) any { return &c.TraceURLTemplate },
		usage: "a trace's page in your tracing UI, {traceId} standing for the id (Jaeger: http://localhost:16686/trace/{traceId}); the pipelines page links each pipeline to its trace"},
}

// parseConfig reads the defaults, then the environment (getenv), then
// args. -h and -help return flag.ErrHelp; run prints the help.
func parseConfig(args []string, getenv func(string) string) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	// The flag package's own complaint comes with the whole usage; run
	// prints one line instead.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var errs []string
	for _, s := range settings {
		p := s.field(c)
		if s.def != "" {
			if err := setValue(p, s.def); err != nil {
				panic(fmt.Sprintf("setting -%s: default %q %v", s.flag, s.def, err))
			}
		}
		if v := getenv(s.env); s.env != "" && v != "" {
			if err := setValue(p, v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q %v", s.env, v, err))
			}
		}
		fs.Var(value{p}, s.flag, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, flagError(err)
	}
	if c.Version {
		// Asking which build this is must work whatever else is wrong
		// with the configuration.
		return c, nil
	}
	c.given = map[string]bool{}
	fs.Visit(func(f *flag.Flag) { c.given[f.Name] = true })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q (flags start with - or --; worker --help lists them)", fs.Arg(0))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("bad environment: %s", strings.Join(errs, "; "))
	}
	for _, s := range settings {
		if s.min != "" && below(s.field(c), s.min) {
			return nil, fmt.Errorf("%s %s: want %s", s.name(), value{s.field(c)}, s.minText())
		}
	}
	if c.MetricsAddr == "off" {
		c.MetricsAddr = ""
	}
	switch c.LogFormat {
	case "", "json", "console":
	default:
		return nil, fmt.Errorf("log format %q: want json or console", c.LogFormat)
	}
	q, err := parseQueues(c.QueueSpec)
	if err != nil {
		return nil, err
	}
	c.Queues = q
	if _, err := tasks.ParseWebhookSecrets(c.WebhookSecret); err != nil {
		return nil, err
	}
	if err := ui.CheckTraceURL(c.TraceURLTemplate); err != nil {
		return nil, fmt.Errorf("TRACE_URL_TEMPLATE: %w", err)
	}
	if _, err := authlimit.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return nil, fmt.Errorf("API_TRUSTED_PROXIES: %w", err)
	}
	if c.SweepSchedule != "off" {
		if _, err := tasks.ParseSweepSchedule(c.SweepSchedule); err != nil {
			return nil, err
		}
	}
	if !(c.SwonkieRateLimit > 0) {
		return nil, fmt.Errorf("SWONKIE_RATE_LIMIT %v: want a rate above 0", c.SwonkieRateLimit)
	}
	if err := c.loadWorkspaces(getenv); err != nil {
		return nil, err
	}
	return c, nil
}

// loadWorkspaces reads the workspaces file, or makes the one workspace of
// SWONKIE_API_ID and SWONKIE_API_KEY. The sandbox modes need no keys of
// their own: without a file they serve one workspace with the sandbox's.
func (c *config) loadWorkspaces(getenv func(string) string) error {
	d := workspaces.Defaults{BaseURL: c.SwonkieBaseURL, RateLimit: c.SwonkieRateLimit, RateBurst: c.SwonkieRateBurst}
	if c.WorkspacesFile == "" {
		if c.SwonkieAPIID != "" && c.SwonkieAPIKey != "" {
			c.Workspaces = workspaces.Single(c.SwonkieAPIID, c.SwonkieAPIKey, d)
		}
		return nil
	}
	if c.SwonkieAPIID != "" || c.SwonkieAPIKey != "" {
		return errors.New("WORKSPACES_FILE and SWONKIE_API_ID/SWONKIE_API_KEY: set one of them (the file names each workspace's key)")
	}
	ws, err := workspaces.Load(c.WorkspacesFile, getenv, d)
	if err != nil {
		return err
	}
	c.Workspaces = ws
	return nil
}

// defaultMetricsAddr keeps /metrics on loopback unless asked otherwise: it
// needs no token, and what it shows (queue sizes, error rates) is for
// operators. Containers set METRICS_ADDR=:9400 inside their own network.
const defaultMetricsAddr = "127.0.0.1:9400"

// needsCredentials: only the real API needs them.
//
// The workspaces file gives them as well as SWONKIE_API_ID/KEY do.
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

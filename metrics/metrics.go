package metrics

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

const namespace = "mediaflow"

// Options configure New.
type Options struct {
	// Version is the build's version, exported as mediaflow_build_info's
	// version label so a dashboard can tell which build is running.
	Version string
	// Commit is the build's VCS revision, mediaflow_build_info's commit
	// label.
	Commit string
}

// Metrics holds mediaflow's collectors on a registry of its own. Its methods
// are safe for concurrent use.
type Metrics struct {
	reg *prometheus.Registry

	tasks     *taskMetrics
	swonkie   *swonkieMetrics
	pipelines *pipelineMetrics
	sweep     *sweepMetrics
	budget    *budgetMetrics
	queues    *queueCollector
	pstats    *pipelineStatsCollector
	webhooks  *webhookMetrics
	redis     *redisCollector
	auth      *authMetrics
	api       *apiMetrics
	wsPause   *workspacePause
}

// New returns Metrics registered on a fresh registry, which also carries the
// Go runtime and process collectors. A registry of its own (rather than
// prometheus.DefaultRegisterer) keeps tests independent and keeps libraries
// that register globally out of mediaflow's exposition.
func New(opts Options) *Metrics {
	version, commit := opts.Version, opts.Commit
	if version == "" {
		version = "unknown"
	}
	if commit == "" {
		commit = "unknown"
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Namespace:   namespace,
			Name:        "build_info",
			Help:        "Always 1; the labels say which build of mediaflow is running.",
			ConstLabels: prometheus.Labels{"version": version, "commit": commit, "goversion": runtime.Version()},
		}, func() float64 { return 1 }),
	)
	m := &Metrics{reg: reg}
	m.tasks = newTaskMetrics(reg)
	m.swonkie = newSwonkieMetrics(reg)
	m.pipelines = newPipelineMetrics(reg)
	m.sweep = newSweepMetrics(reg)
	m.budget = newBudgetMetrics(reg)
	m.queues = newQueueCollector(reg)
	m.pstats = newPipelineStatsCollector(reg)
	m.webhooks = newWebhookMetrics(reg)
	m.redis = newRedisCollector(reg)
	m.auth = newAuthMetrics(reg)
	m.api = newAPIMetrics(reg)
	m.wsPause = newWorkspacePause(reg)
	return m
}

// Registry returns the registry every mediaflow collector is on, for tests
// and for callers that want to add collectors of their own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format, for
// /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		// Registry makes the handler count its own failures
		// (promhttp_metric_handler_errors_total) on the same registry.
		Registry: m.reg,
		// A collector that fails should cost its own series, not the whole
		// scrape: the rest still tells an operator what is going on.
		ErrorHandling: promhttp.ContinueOnError,
		// Exemplars (the trace ids of duration observations) exist only
		// in the OpenMetrics format; Prometheus asks for it, and a plain
		// text scrape still gets the classic format.
		EnableOpenMetrics: true,
	})
}

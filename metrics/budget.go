package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Limiter values of mediaflow_swonkie_budget_wait_seconds: which limiter
// paced the call.
const (
	// LimiterFleet is the budget shared through Redis by every worker.
	LimiterFleet = "fleet"
	// LimiterLocal is the per-process fallback used while Redis cannot be
	// asked.
	LimiterLocal = "local"
)

// BudgetAllEndpoints is the endpoint label of a pause that holds every
// endpoint of the workspace.
const BudgetAllEndpoints = "all"

// budgetWaitBuckets: most calls pass at once; a backlog against a small
// budget waits seconds, a Retry-After pause minutes.
var budgetWaitBuckets = []float64{.001, .005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

type budgetMetrics struct {
	wait   *prometheus.HistogramVec
	paused *prometheus.GaugeVec
}

func newBudgetMetrics(reg prometheus.Registerer) *budgetMetrics {
	b := &budgetMetrics{
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "swonkie_budget_wait_seconds",
			Help:      "Time a Swonkie API call waited for its workspace's call budget before it was sent (or was deferred, its task giving its worker slot back), by workspace and limiter (fleet: shared through Redis; local: this process alone, while Redis cannot be asked).",
			Buckets:   budgetWaitBuckets,
		}, []string{"workspace", "limiter"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "swonkie_budget_paused",
			Help:      "1 while this process holds calls to a Swonkie endpoint (or all of them: endpoint=\"all\") because a 429 asked the fleet to wait, else 0.",
		}, []string{"endpoint"}),
	}
	b.initWorkspace(DefaultWorkspace)
	b.paused.WithLabelValues(BudgetAllEndpoints)
	reg.MustRegister(b.wait, b.paused)
	return b
}

// initWorkspace creates the zero series of a workspace.
func (b *budgetMetrics) initWorkspace(ws string) {
	for _, l := range []string{LimiterFleet, LimiterLocal} {
		b.wait.WithLabelValues(ws, l)
	}
}

// BudgetWaited records how long one API call of workspace waited for the
// budget, and which limiter (LimiterFleet, LimiterLocal) made it wait.
func (m *Metrics) BudgetWaited(workspace, limiter string, d time.Duration) {
	m.budget.wait.WithLabelValues(m.ws.label(workspace), limiter).Observe(d.Seconds())
}

// BudgetPaused records whether calls to endpoint (a method and endpoint
// template, or BudgetAllEndpoints) are held by a pause.
func (m *Metrics) BudgetPaused(endpoint string, paused bool) {
	v := 0.0
	if paused {
		v = 1
	}
	m.budget.paused.WithLabelValues(endpoint).Set(v)
}

package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// sweepDurationBuckets: a sweep walks the pipeline index, from milliseconds
// when it is small to minutes when it has a backlog to clean.
var sweepDurationBuckets = []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// SweepActions are the actions the cleanup sweep reports to SweepFinished,
// the values of mediaflow_sweep_pipelines_total's action label. Each starts
// at zero, so the dashboard's sweep panel has its series from a worker's
// first scrape, before any sweep has run on it. An action outside this list
// is still counted, under its own name, from its first use.
var SweepActions = []string{"kicked", "stuck_failed", "cleanup_retried", "retention_deleted", "reindexed", "webhook_retried"}

type sweepMetrics struct {
	runs        *prometheus.CounterVec
	duration    prometheus.Histogram
	lastSuccess prometheus.Gauge
	pipelines   *prometheus.CounterVec
}

func newSweepMetrics(reg prometheus.Registerer) *sweepMetrics {
	s := &sweepMetrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "sweep_runs_total",
			Help:      "Runs of the periodic cleanup sweep, by outcome (ok, error).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "sweep_duration_seconds",
			Help:      "Time one cleanup sweep took, whatever its outcome.",
			Buckets:   sweepDurationBuckets,
		}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "sweep_last_success_timestamp_seconds",
			Help:      "Unix time the last cleanup sweep finished without error; 0 if none has yet.",
		}),
		pipelines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "sweep_pipelines_total",
			Help:      "Pipelines the cleanup sweep acted on, by action (kicked, stuck_failed, cleanup_retried, retention_deleted, reindexed, webhook_retried).",
		}, []string{"action"}),
	}
	for _, o := range []string{"ok", "error"} {
		s.runs.WithLabelValues(o)
	}
	for _, a := range SweepActions {
		s.pipelines.WithLabelValues(a)
	}
	reg.MustRegister(s.runs, s.duration, s.lastSuccess, s.pipelines)
	return s
}

// SweepFinished records one run of the cleanup sweep: err is its result, d
// how long it took, acted how many pipelines it handled per action (a small
// fixed set of words chosen by the sweep). Actions taken before an error are
// counted too: they happened.
func (m *Metrics) SweepFinished(err error, d time.Duration, acted map[string]int) {
	s := m.sweep
	s.duration.Observe(d.Seconds())
	if err != nil {
		s.runs.WithLabelValues("error").Inc()
	} else {
		s.runs.WithLabelValues("ok").Inc()
		s.lastSuccess.SetToCurrentTime()
	}
	for action, n := range acted {
		if n > 0 {
			s.pipelines.WithLabelValues(action).Add(float64(n))
		} else {
			s.pipelines.WithLabelValues(action)
		}
	}
}

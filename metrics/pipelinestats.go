package metrics

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Pipeline states as counted by mediaflow_pipelines; each is exported even
// when zero.
var pipelineStates = []string{"pending", "running", StateSucceeded, StateFailed, StateCancelled}

// PipelineStats is what the pipeline record index says at one moment.
type PipelineStats struct {
	// ByState counts pipeline records by state (pending, running,
	// succeeded, failed, cancelled). Missing states are exported as 0.
	ByState map[string]int64
	// Stuck counts pipelines that have not moved for longer than the
	// pipeline code considers healthy.
	Stuck int64
	// CleanupPending counts pipelines that still owe a cleanup in Swonkie:
	// media to delete or, after a failure, their post to withdraw. It counts
	// pipelines, not media entries (one pipeline may hold up to ten).
	CleanupPending int64
}

type pipelineStatsCollector struct {
	byState        *prometheus.Desc
	stuck          *prometheus.Desc
	cleanupPending *prometheus.Desc
	poll           pollerMetrics

	mu   sync.RWMutex
	snap *PipelineStats // nil until the first successful refresh
}

func newPipelineStatsCollector(reg prometheus.Registerer) *pipelineStatsCollector {
	c := &pipelineStatsCollector{
		byState: prometheus.NewDesc(namespace+"_pipelines",
			"Pipeline records by state, as of the last background refresh.",
			[]string{"state"}, nil),
		stuck: prometheus.NewDesc(namespace+"_pipelines_stuck",
			"Pipelines that have not advanced for too long, as of the last background refresh.",
			nil, nil),
		cleanupPending: prometheus.NewDesc(namespace+"_media_cleanup_pending",
			"Pipelines that still owe a cleanup in Swonkie (media to delete, or a failed pipeline's post to withdraw), as of the last background refresh.",
			nil, nil),
		poll: newPollerMetrics(reg, "pipeline_stats", "the pipeline gauges"),
	}
	reg.MustRegister(c)
	return c
}

func (c *pipelineStatsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.byState
	ch <- c.stuck
	ch <- c.cleanupPending
}

// Collect serves the cached snapshot; it never calls the source. Before the
// first refresh it exports nothing rather than zeros it does not know.
func (c *pipelineStatsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	snap := c.snap
	c.mu.RUnlock()
	if snap == nil {
		return
	}
	states := make(map[string]int64, len(pipelineStates)+len(snap.ByState))
	for _, s := range pipelineStates {
		states[s] = 0
	}
	// States the source reports beyond the known five come from the
	// pipeline code's own fixed set, so they are bounded too.
	for s, n := range snap.ByState {
		states[s] = n
	}
	names := make([]string, 0, len(states))
	for s := range states {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		ch <- prometheus.MustNewConstMetric(c.byState, prometheus.GaugeValue, float64(states[s]), s)
	}
	ch <- prometheus.MustNewConstMetric(c.stuck, prometheus.GaugeValue, float64(snap.Stuck))
	ch <- prometheus.MustNewConstMetric(c.cleanupPending, prometheus.GaugeValue, float64(snap.CleanupPending))
}

// WatchPipelines returns a Poller that calls source every interval (<= 0
// means DefaultPollInterval) and serves what it returns as
// mediaflow_pipelines{state}, mediaflow_pipelines_stuck and
// mediaflow_media_cleanup_pending. source gets a context with a deadline of
// min(every, 10s) and should honour it. Call it once per Metrics.
func (m *Metrics) WatchPipelines(source func(context.Context) (PipelineStats, error), every time.Duration) *Poller {
	c := m.pstats
	return newPoller(every, c.poll, func(ctx context.Context) error {
		stats, err := source(ctx)
		if err != nil {
			return err
		}
		byState := make(map[string]int64, len(stats.ByState))
		for s, n := range stats.ByState {
			byState[s] = n
		}
		stats.ByState = byState
		c.mu.Lock()
		c.snap = &stats
		c.mu.Unlock()
		return nil
	})
}

package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

// scrape fetches /metrics from m's handler, as Prometheus would.
func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, rec.Body)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// countingSource is a pipeline stats source that counts its calls and
// returns whatever is set.
type countingSource struct {
	calls atomic.Int64
	mu    sync.Mutex
	stats metrics.PipelineStats
	err   error
}

func (s *countingSource) set(stats metrics.PipelineStats, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats, s.err = stats, err
}

func (s *countingSource) source(ctx context.Context) (metrics.PipelineStats, error) {
	s.calls.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats, s.err
}

func TestWatchPipelinesServesCachedValues(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	src := &countingSource{}
	src.set(metrics.PipelineStats{ByState: map[string]int64{"running": 4, "failed": 2}, Stuck: 1, CleanupPending: 9}, nil)

	// An interval far beyond the test: only Start's first refresh runs.
	p := m.WatchPipelines(src.source, time.Hour)
	if hasSeries(t, m, "mediaflow_pipelines", "state", "running") {
		t.Fatal("pipeline gauges exported before any refresh")
	}
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 5*time.Second, func() bool { return hasSeries(t, m, "mediaflow_pipelines_stuck") })

	want := map[string]float64{"pending": 0, "running": 4, "succeeded": 0, "failed": 2, "cancelled": 0}
	for state, v := range want {
		if got := value(t, m, "mediaflow_pipelines", "state", state); got != v || !hasSeries(t, m, "mediaflow_pipelines", "state", state) {
			t.Errorf("pipelines{state=%q} = %v, want %v", state, got, v)
		}
	}
	if got := value(t, m, "mediaflow_pipelines_stuck"); got != 1 {
		t.Errorf("pipelines_stuck = %v, want 1", got)
	}
	if got := value(t, m, "mediaflow_media_cleanup_pending"); got != 9 {
		t.Errorf("media_cleanup_pending = %v, want 9", got)
	}
	if value(t, m, "mediaflow_pipeline_stats_last_success_timestamp_seconds") == 0 {
		t.Error("last_success_timestamp not set after a successful refresh")
	}

	before := src.calls.Load()
	for range 20 {
		scrape(t, m)
	}
	if after := src.calls.Load(); after != before {
		t.Errorf("20 scrapes called the source %d times; scrapes must serve the cache", after-before)
	}
}

func TestWatchPipelinesKeepsValuesOnError(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	src := &countingSource{}
	src.set(metrics.PipelineStats{Stuck: 3}, nil)
	p := m.WatchPipelines(src.source, 20*time.Millisecond)
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_pipelines_stuck") == 3 })

	src.set(metrics.PipelineStats{Stuck: 99}, errors.New("redis: connection refused"))
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_pipeline_stats_errors_total") >= 2 })
	if got := value(t, m, "mediaflow_pipelines_stuck"); got != 3 {
		t.Errorf("pipelines_stuck = %v after failed refreshes, want the last good 3", got)
	}
	if p.LastError() == nil {
		t.Error("LastError() = nil after failed refreshes")
	}

	src.set(metrics.PipelineStats{Stuck: 5}, nil)
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_pipelines_stuck") == 5 })
	waitFor(t, 5*time.Second, func() bool { return p.LastError() == nil })
}

func TestWatchPipelinesTimesOut(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	hung := func(ctx context.Context) (metrics.PipelineStats, error) {
		<-ctx.Done()
		return metrics.PipelineStats{}, ctx.Err()
	}
	// The timeout is min(interval, 10s): 30ms here.
	p := m.WatchPipelines(hung, 30*time.Millisecond)
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_pipeline_stats_errors_total") >= 2 })
	if !errors.Is(p.LastError(), context.DeadlineExceeded) {
		t.Errorf("LastError() = %v, want a deadline error", p.LastError())
	}
}

func TestPollerShutdown(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		start bool
	}{
		{name: "after Start", start: true},
		{name: "without Start", start: false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{})
			src := &countingSource{}
			p := m.WatchPipelines(src.source, 5*time.Millisecond)
			if tc.start {
				p.Start()
				waitFor(t, 5*time.Second, func() bool { return src.calls.Load() >= 3 })
			}
			done := make(chan struct{})
			go func() { p.Shutdown(); close(done) }()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Fatal("Shutdown did not return")
			}
			stopped := src.calls.Load()
			time.Sleep(100 * time.Millisecond)
			if got := src.calls.Load(); got != stopped {
				t.Errorf("source called %d more times after Shutdown", got-stopped)
			}
			p.Start() // no effect after Shutdown
			p.Shutdown()
			time.Sleep(50 * time.Millisecond)
			if got := src.calls.Load(); got != stopped {
				t.Errorf("Start after Shutdown restarted the loop (%d calls)", got-stopped)
			}
		})
	}
}

package metrics_test

import (
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
)

// infoInspector serves fixed QueueInfo, so every field can be checked
// against the series it becomes.
type infoInspector map[string]asynq.QueueInfo

func (f infoInspector) Queues() ([]string, error) {
	var names []string
	for n := range f {
		names = append(names, n)
	}
	return names, nil
}

func (f infoInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	info := f[q]
	return &info, nil
}

// The names, labels and values of asynq's x/metrics exporter, which
// asynqmon's Metrics page queries.
func TestAsynqNames(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	p := m.WatchQueues(infoInspector{
		"mediaflow": {Queue: "mediaflow", Size: 9, Pending: 4, Active: 2, Scheduled: 1, Retry: 1, Archived: 1, Completed: 3, Aggregating: 5,
			Latency: 1500 * time.Millisecond, MemoryUsage: 4096, ProcessedTotal: 120, FailedTotal: 7, Paused: true},
	}, time.Hour)
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_queue_stats_last_success_timestamp_seconds") > 0 })

	q := []string{"queue", "mediaflow"}
	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"asynq_queue_size", q, 9},
		{"asynq_queue_latency_seconds", q, 1.5},
		{"asynq_queue_memory_usage_approx_bytes", q, 4096},
		{"asynq_tasks_processed_total", q, 120},
		{"asynq_tasks_failed_total", q, 7},
		{"asynq_queue_paused_total", q, 1},
		{"asynq_tasks_enqueued_total", append(q, "state", "pending"), 4},
		{"asynq_tasks_enqueued_total", append(q, "state", "active"), 2},
		{"asynq_tasks_enqueued_total", append(q, "state", "scheduled"), 1},
		{"asynq_tasks_enqueued_total", append(q, "state", "retry"), 1},
		{"asynq_tasks_enqueued_total", append(q, "state", "archived"), 1},
		{"asynq_tasks_enqueued_total", append(q, "state", "completed"), 3},
	}
	for _, c := range checks {
		if !hasSeries(t, m, c.name, c.labels...) {
			t.Errorf("no series %s%v", c.name, c.labels)
			continue
		}
		if got := value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// asynq's exporter has no aggregating state; neither does this.
	if hasSeries(t, m, "asynq_tasks_enqueued_total", "queue", "mediaflow", "state", "aggregating") {
		t.Error("asynq_tasks_enqueued_total has an aggregating series, which asynq's exporter does not")
	}
}

// On a fresh Redis asynq knows no queue until a task is enqueued to it;
// the queues InitQueues names are reported empty rather than missing, once
// the poller has read Redis (and not before: zeros before any read would
// be made up).
func TestInitQueuesOnFreshRedis(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	conn := asynq.RedisClientOpt{Addr: r.Addr, DB: r.DB}
	client := asynq.NewClient(conn)
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Enqueue(asynq.NewTask("cleanup:sweep", nil), asynq.Queue("mediaflow-cleanup")); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(conn)
	t.Cleanup(func() { _ = insp.Close() })

	m := metrics.New(metrics.Options{})
	m.InitQueues("mediaflow", "mediaflow-cleanup", "mediaflow")
	if hasSeries(t, m, "asynq_queue_size", "queue", "mediaflow") {
		t.Error("asynq_queue_size{queue=mediaflow} before the poller read Redis")
	}
	p := m.WatchQueues(insp, time.Hour)
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 10*time.Second, func() bool { return value(t, m, "mediaflow_queue_stats_last_success_timestamp_seconds") > 0 })
	if err := p.LastError(); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	for _, c := range []struct {
		name  string
		queue string
		want  float64
	}{
		{"asynq_queue_size", "mediaflow", 0},
		{"mediaflow_queue_size", "mediaflow", 0},
		{"asynq_queue_paused_total", "mediaflow", 0},
		{"asynq_queue_size", "mediaflow-cleanup", 1},
		{"mediaflow_queue_size", "mediaflow-cleanup", 1},
	} {
		if !hasSeries(t, m, c.name, "queue", c.queue) {
			t.Errorf("no series %s{queue=%q}", c.name, c.queue)
		} else if got := value(t, m, c.name, "queue", c.queue); got != c.want {
			t.Errorf("%s{queue=%q} = %v, want %v", c.name, c.queue, got, c.want)
		}
	}
	if got := countSeries(t, m, "mediaflow_queue_size"); got != 2 {
		t.Errorf("%d mediaflow_queue_size series, want 2 (a queue named twice is reported once)", got)
	}
}

func countSeries(t *testing.T, m *metrics.Metrics, name string) int {
	t.Helper()
	return len(metricstest.Family(t, m.Registry(), name))
}

// What a dashboard or an alert divides by, or a panel shows per label
// value, exists in the very first scrape of a new registry.
func TestFirstScrapeHasZeroSeries(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	checks := [][]string{
		{"mediaflow_webhook_deliveries_total", "outcome", "delivered"},
		{"mediaflow_webhook_deliveries_total", "outcome", "retrying"},
		{"mediaflow_webhook_deliveries_total", "outcome", "gone"},
		{"mediaflow_webhook_deliveries_total", "outcome", "gave_up"},
		{"mediaflow_webhook_delivery_duration_seconds"},
		{"mediaflow_duplicate_posts_deleted_total"},
		{"mediaflow_media_left_behind_total", "reason", "unrecorded"},
		{"mediaflow_media_left_behind_total", "reason", "delete_refused"},
		{"mediaflow_sweep_runs_total", "outcome", "ok"},
		{"mediaflow_sweep_last_success_timestamp_seconds"},
	}
	for _, a := range metrics.SweepActions {
		checks = append(checks, []string{"mediaflow_sweep_pipelines_total", "action", a})
	}
	for _, c := range checks {
		if !hasSeries(t, m, c[0], c[1:]...) {
			t.Errorf("first scrape lacks %s%v", c[0], c[1:])
		}
	}
	if len(metrics.SweepActions) < 5 {
		t.Errorf("SweepActions %v: the sweep reports at least kicked, stuck_failed, cleanup_retried, retention_deleted, reindexed", metrics.SweepActions)
	}
}

package metrics

import (
	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// asynqNames are the series asynq's own exporter (x/metrics, v0.26) writes,
// under the same names, labels and types, served from the queue poller's
// snapshot. asynqmon's Metrics page and dashboards made for asynq query
// these names; depending on x/metrics itself would cost a second set of
// Redis reads on every scrape, which the cached poller exists to avoid.
type asynqNames struct {
	size      *prometheus.Desc
	latency   *prometheus.Desc
	memory    *prometheus.Desc
	processed *prometheus.Desc
	failed    *prometheus.Desc
	paused    *prometheus.Desc
	enqueued  *prometheus.Desc
}

func newAsynqNames() asynqNames {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("asynq_"+name, help, append([]string{"queue"}, labels...), nil)
	}
	return asynqNames{
		size:      desc("queue_size", "Number of tasks in a queue (asynq's name for mediaflow_queue_size)."),
		latency:   desc("queue_latency_seconds", "Number of seconds the oldest pending task is waiting in pending state to be processed (asynq's name for mediaflow_queue_latency_seconds)."),
		memory:    desc("queue_memory_usage_approx_bytes", "Number of memory used by a given queue (approximated number by sampling; asynq's name for mediaflow_queue_memory_bytes)."),
		processed: desc("tasks_processed_total", "Number of tasks processed (both succeeded and failed); broken down by queue. Kept by asynq in Redis, so every worker reports the same value."),
		failed:    desc("tasks_failed_total", "Number of tasks failed; broken down by queue. Kept by asynq in Redis, so every worker reports the same value."),
		paused:    desc("queue_paused_total", "1 if the queue is paused, else 0 (asynq's name for mediaflow_queue_paused)."),
		enqueued:  desc("tasks_enqueued_total", "Number of tasks enqueued; broken down by queue and state (asynq's name for mediaflow_queue_tasks).", "state"),
	}
}

func (a asynqNames) describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{a.size, a.latency, a.memory, a.processed, a.failed, a.paused, a.enqueued} {
		ch <- d
	}
}

// collect writes one queue's asynq series. asynq's exporter leaves out the
// aggregating state of tasks_enqueued_total; so does this, so the two
// expose the same series.
func (a asynqNames) collect(ch chan<- prometheus.Metric, info asynq.QueueInfo) {
	q := info.Queue
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{q}, labels...)...)
	}
	for _, s := range []struct {
		state string
		n     int
	}{{"active", info.Active}, {"pending", info.Pending}, {"scheduled", info.Scheduled}, {"retry", info.Retry}, {"archived", info.Archived}, {"completed", info.Completed}} {
		gauge(a.enqueued, float64(s.n), s.state)
	}
	gauge(a.size, float64(info.Size))
	gauge(a.latency, info.Latency.Seconds())
	gauge(a.memory, float64(info.MemoryUsage))
	ch <- prometheus.MustNewConstMetric(a.processed, prometheus.CounterValue, float64(info.ProcessedTotal), q)
	ch <- prometheus.MustNewConstMetric(a.failed, prometheus.CounterValue, float64(info.FailedTotal), q)
	paused := 0.0
	if info.Paused {
		paused = 1
	}
	gauge(a.paused, paused)
}

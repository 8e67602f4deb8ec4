package metrics

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// QueueInspector is the part of *asynq.Inspector the queue poller uses.
type QueueInspector interface {
	Queues() ([]string, error)
	GetQueueInfo(queue string) (*asynq.QueueInfo, error)
}

var _ QueueInspector = (*asynq.Inspector)(nil)

// Task states of an asynq queue, the values of mediaflow_queue_tasks' state
// label.
var queueTaskStates = []string{"pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"}

type queueCollector struct {
	size    *prometheus.Desc
	tasks   *prometheus.Desc
	latency *prometheus.Desc
	paused  *prometheus.Desc
	memory  *prometheus.Desc
	asynq   asynqNames
	poll    pollerMetrics

	mu     sync.RWMutex
	snap   map[string]asynq.QueueInfo // by queue name; nil until the first refresh
	always []string                   // InitQueues: reported even before they exist in Redis
}

func newQueueCollector(reg prometheus.Registerer) *queueCollector {
	q := &queueCollector{
		size: prometheus.NewDesc(namespace+"_queue_size",
			"Tasks in an asynq queue in any state but completed (asynq's own size), as of the last background refresh.",
			[]string{"queue"}, nil),
		tasks: prometheus.NewDesc(namespace+"_queue_tasks",
			"Tasks in an asynq queue by state, as of the last background refresh.",
			[]string{"queue", "state"}, nil),
		latency: prometheus.NewDesc(namespace+"_queue_latency_seconds",
			"Age of the oldest pending task in an asynq queue (0 when none is pending), as of the last background refresh.",
			[]string{"queue"}, nil),
		paused: prometheus.NewDesc(namespace+"_queue_paused",
			"1 if an asynq queue is paused, as of the last background refresh.",
			[]string{"queue"}, nil),
		memory: prometheus.NewDesc(namespace+"_queue_memory_bytes",
			"Redis memory an asynq queue and its tasks take, as asynq estimates it by sampling, as of the last background refresh.",
			[]string{"queue"}, nil),
		asynq: newAsynqNames(),
		poll:  newPollerMetrics(reg, "queue_stats", "the asynq queue gauges"),
	}
	reg.MustRegister(q)
	return q
}

func (q *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- q.size
	ch <- q.tasks
	ch <- q.latency
	ch <- q.paused
	ch <- q.memory
	q.asynq.describe(ch)
}

// InitQueues names the queues the worker serves. asynq lists a queue in
// Redis only once a task was enqueued to it, so on a fresh Redis these
// queues would have no series at all and the queue panels (and asynqmon's
// Metrics page) would say "no data" instead of 0. Once the poller has
// refreshed, each named queue that Redis does not know is reported empty.
func (m *Metrics) InitQueues(names ...string) {
	q := m.queues
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, n := range names {
		if n != "" && !slices.Contains(q.always, n) {
			q.always = append(q.always, n)
		}
	}
}

// Collect serves the cached snapshot; it never touches Redis.
func (q *queueCollector) Collect(ch chan<- prometheus.Metric) {
	q.mu.RLock()
	snap, always := q.snap, q.always
	q.mu.RUnlock()
	if snap == nil {
		return // nothing read yet: no series rather than made-up zeros
	}
	names := make([]string, 0, len(snap)+len(always))
	for name := range snap {
		names = append(names, name)
	}
	for _, name := range always {
		if _, ok := snap[name]; !ok {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		info := snap[name] // the zero QueueInfo for a queue Redis has not seen
		info.Queue = name
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
		}
		gauge(q.size, float64(info.Size))
		counts := []int{info.Pending, info.Active, info.Scheduled, info.Retry, info.Archived, info.Completed, info.Aggregating}
		for i, state := range queueTaskStates {
			gauge(q.tasks, float64(counts[i]), state)
		}
		gauge(q.latency, info.Latency.Seconds())
		paused := 0.0
		if info.Paused {
			paused = 1
		}
		gauge(q.paused, paused)
		gauge(q.memory, float64(info.MemoryUsage))
		q.asynq.collect(ch, info)
	}
}

// WatchQueues returns a Poller that reads every asynq queue's state through
// insp every interval (<= 0 means DefaultPollInterval) and serves it as the
// mediaflow_queue_* gauges and under asynq's own names (asynq_queue_size,
// asynq_tasks_processed_total, …; see asynqNames). Call it once per Metrics.
//
// What one refresh costs Redis (asynq v0.26.0, Inspector → internal/rdb),
// for Q queues: 1 + 3·Q round trips. Queues is one SMEMBERS; each
// GetQueueInfo is one SISMEMBER and two Lua scripts sent as EVALSHA (the
// first call after a Redis restart gets NOSCRIPT and is resent as EVAL).
// Inside Redis, rdb.CurrentStats' script runs about 15 O(1) commands
// (LLEN, ZCARD, GET, EXISTS, one HGET for the oldest pending task) plus one
// ZCARD per aggregation group. rdb.memoryUsage's script, which GetQueueInfo
// always runs (its result is mediaflow_queue_memory_bytes), samples up to
// 20 tasks in each of the six task states with MEMORY USAGE (up to about
// 130 commands) and up to 20 tasks in each of 5 groups. Every command is
// O(1) or bounded by the sample size, so the cost does not grow with queue
// length: at most a few hundred cheap commands per queue per interval.
// A scrape costs nothing.
//
// The Inspector's methods take no context, so a refresh that outlives its
// timeout is abandoned rather than cancelled: its result is dropped, and
// no new refresh starts until it has returned.
func (m *Metrics) WatchQueues(insp QueueInspector, every time.Duration) *Poller {
	q := m.queues
	var busy atomic.Bool
	return newPoller(every, q.poll, func(ctx context.Context) error {
		if !busy.CompareAndSwap(false, true) {
			return errRefreshBusy
		}
		q.mu.RLock()
		prev := q.snap
		q.mu.RUnlock()
		type result struct {
			snap map[string]asynq.QueueInfo
			err  error
		}
		done := make(chan result, 1)
		go func() {
			defer busy.Store(false)
			snap, err := readQueues(insp, prev)
			done <- result{snap, err}
		}()
		select {
		case r := <-done:
			if r.snap != nil {
				q.mu.Lock()
				q.snap = r.snap
				q.mu.Unlock()
			}
			return r.err
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// readQueues reads every queue. A queue that cannot be read keeps its
// previous values (and the refresh counts as failed), so one bad queue
// neither blanks the others nor drops out of the graphs for one interval.
// Queues no longer listed are dropped.
func readQueues(insp QueueInspector, prev map[string]asynq.QueueInfo) (map[string]asynq.QueueInfo, error) {
	names, err := insp.Queues()
	if err != nil {
		return nil, err
	}
	snap := make(map[string]asynq.QueueInfo, len(names))
	var errs []error
	for _, name := range names {
		info, err := insp.GetQueueInfo(name)
		if err != nil || info == nil {
			if err == nil {
				err = errors.New("metrics: no info for queue " + name)
			}
			errs = append(errs, err)
			if old, ok := prev[name]; ok {
				snap[name] = old
			}
			continue
		}
		snap[name] = *info
	}
	return snap, errors.Join(errs...)
}

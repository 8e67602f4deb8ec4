package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

// Task outcomes, the values of mediaflow_tasks_processed_total's outcome
// label.
const (
	OutcomeSuccess     = "success"
	OutcomeRetry       = "retry"
	OutcomeFailure     = "failure"
	OutcomeSkipped     = "skipped"
	OutcomeRateLimited = "rate_limited"
	// OutcomeWaiting: not a failure at all; what the task waits for (a
	// media's processing, a post's publication) has not happened yet, and
	// asynq runs it again later without using its retry budget.
	OutcomeWaiting = "waiting"
)

var taskOutcomes = []string{OutcomeSuccess, OutcomeRetry, OutcomeFailure, OutcomeSkipped, OutcomeRateLimited, OutcomeWaiting}

// otherTaskType stands in for a task type that InitTaskTypes did not name,
// so a stray or hostile task type cannot grow the label set.
const otherTaskType = "other"

// taskDurationBuckets span a quick Redis-only step (milliseconds) to a
// streamed upload of a large video (minutes).
var taskDurationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type taskMetrics struct {
	processed  *prometheus.CounterVec
	duration   *prometheus.HistogramVec
	inProgress *prometheus.GaugeVec

	mu    sync.RWMutex
	known map[string]bool // nil until InitTaskTypes: then every type is taken as is
}

func newTaskMetrics(reg prometheus.Registerer) *taskMetrics {
	t := &taskMetrics{
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "tasks_processed_total",
			Help:      "Tasks handled, by task type and outcome (success, retry, failure, skipped, rate_limited, waiting).",
		}, []string{"type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "task_duration_seconds",
			Help:      "Time a task handler ran, whatever its outcome, by task type.",
			Buckets:   taskDurationBuckets,
		}, []string{"type"}),
		inProgress: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "tasks_in_progress",
			Help:      "Task handlers running now, by task type.",
		}, []string{"type"}),
	}
	reg.MustRegister(t.processed, t.duration, t.inProgress)
	return t
}

// InitTaskTypes creates a zero series for every type and outcome, so rates
// and ratios on a dashboard have data from the first scrape rather than from
// the first failure. Once it has been called, task types it did not name are
// counted under type="other": the label set stays bounded even if a task of
// an unknown type reaches the server.
func (m *Metrics) InitTaskTypes(types ...string) {
	t := m.tasks
	t.mu.Lock()
	if t.known == nil {
		t.known = make(map[string]bool, len(types)+1)
	}
	for _, typ := range types {
		t.known[typ] = true
	}
	t.known[otherTaskType] = true
	t.mu.Unlock()
	for _, typ := range types {
		t.initType(typ)
	}
}

func (t *taskMetrics) initType(typ string) {
	for _, o := range taskOutcomes {
		t.processed.WithLabelValues(typ, o)
	}
	t.duration.WithLabelValues(typ)
	t.inProgress.WithLabelValues(typ)
}

func (t *taskMetrics) label(typ string) string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if t.known == nil || t.known[typ] {
		return typ
	}
	return otherTaskType
}

// TaskMiddleware returns an asynq middleware that counts every task it wraps
// by type and outcome, times its handler and tracks how many run at once.
//
// outcome names what becomes of a task whose handler returned a non-nil
// error: one of the Outcome constants (anything else counts as
// "unknown"). It belongs to the code that decides retries (the pipeline's
// verdicts), not to this package, which knows nothing of asynq's rules. A
// nil outcome counts every error as a retry. A handler that panics is
// counted as outcome says of errHandlerPanicked, and the panic goes on up
// to asynq untouched.
func (m *Metrics) TaskMiddleware(outcome func(error) string) asynq.MiddlewareFunc {
	if outcome == nil {
		outcome = func(error) string { return OutcomeRetry }
	}
	t := m.tasks
	return func(next asynq.Handler) asynq.Handler {
		return asynq.HandlerFunc(func(ctx context.Context, task *asynq.Task) (err error) {
			typ := t.label(task.Type())
			// The first sight of a type creates all its outcome series, for
			// the same reason InitTaskTypes does.
			t.initType(typ)
			inProgress := t.inProgress.WithLabelValues(typ)
			inProgress.Inc()
			start := time.Now()
			returned := false
			defer func() {
				inProgress.Dec()
				observe(ctx, t.duration.WithLabelValues(typ), time.Since(start).Seconds())
				if !returned {
					err = errHandlerPanicked
				}
				o := OutcomeSuccess
				if err != nil {
					o = oneOf(outcome(err), taskOutcomes)
				}
				t.processed.WithLabelValues(typ, o).Inc()
			}()
			err = next.ProcessTask(ctx, task)
			returned = true
			return err
		})
	}
}

// errHandlerPanicked stands for a handler that panicked, when asking what
// becomes of its task (asynq retries it like any error).
var errHandlerPanicked = errors.New("task handler panicked")

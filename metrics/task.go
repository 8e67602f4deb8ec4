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
// isRateLimited should accept exactly the errors for which the asynq
// server's Config.IsFailure returns false: asynq retries those without using
// up the retry budget, so they are counted as rate_limited, not retry.
// A nil isRateLimited treats no error as rate limited.
func (m *Metrics) TaskMiddleware(isRateLimited func(error) bool) asynq.MiddlewareFunc {
	if isRateLimited == nil {
		isRateLimited = func(error) bool { return false }
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
					// The handler panicked. asynq recovers the panic and
					// treats it as an ordinary error; count it the same way
					// and let the panic go on up to asynq untouched.
					err = errHandlerPanicked
				}
				t.processed.WithLabelValues(typ, classify(ctx, err, isRateLimited)).Inc()
			}()
			err = next.ProcessTask(ctx, task)
			returned = true
			return err
		})
	}
}

var errHandlerPanicked = errors.New("task handler panicked")

// classify names what asynq v0.26 will do with a task whose handler returned
// err (processor.handleFailedMessage):
//
//   - nil: the task is done (success);
//   - SkipRetry: archived on purpose (skipped), a permanent error the handler
//     already dealt with, so it is not counted as a failure;
//   - RevokeTask: dropped on purpose, also skipped;
//   - retries used up (retried >= max retry): archived (failure). asynq
//     checks this before IsFailure, so a rate-limited error on the last
//     attempt archives the task too, and is counted as the failure it is;
//   - isRateLimited: retried without using the budget (rate_limited);
//   - otherwise: retried (retry).
//
// An error that names its own outcome (a TaskOutcome method, as the
// pipeline's verdicts have) is counted as it says: the code that decided
// the retry is the one place that knows.
func classify(ctx context.Context, err error, isRateLimited func(error) bool) string {
	var named interface{ TaskOutcome() string }
	switch {
	case err == nil:
		return OutcomeSuccess
	case errors.As(err, &named):
		return named.TaskOutcome()
	case errors.Is(err, asynq.SkipRetry), errors.Is(err, asynq.RevokeTask):
		return OutcomeSkipped
	}
	retried, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	if ok1 && ok2 && retried >= maxRetry {
		return OutcomeFailure
	}
	if isRateLimited(err) {
		return OutcomeRateLimited
	}
	return OutcomeRetry
}

package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mediaflow/mediaflow/metrics"
)

// TestTaskMiddlewareOutcomes checks that the middleware counts each run
// as the outcome function says (what asynq does with the task is the
// caller's to know: the pipeline's verdicts), success without asking it,
// anything outside the fixed set as unknown, and a panic as the outcome of
// a failed run, passing the panic on.
func TestTaskMiddlewareOutcomes(t *testing.T) {
	t.Parallel()
	errNamed := errors.New("named")
	cases := []struct {
		name    string
		handle  func() error
		outcome func(error) string
		want    string
	}{
		{"success is not asked about", func() error { return nil }, func(error) string { return "never asked" }, metrics.OutcomeSuccess},
		{"an error counts as named", func() error { return errNamed }, func(error) string { return metrics.OutcomeWaiting }, metrics.OutcomeWaiting},
		{"each outcome word", func() error { return errNamed }, func(error) string { return metrics.OutcomeSkipped }, metrics.OutcomeSkipped},
		{"no outcome function: retry", func() error { return errNamed }, nil, metrics.OutcomeRetry},
		{"a word outside the set", func() error { return errNamed }, func(error) string { return "exploded" }, "unknown"},
		{"a panic", func() error { panic("handler bug") }, func(err error) string {
			if err == nil || err == errNamed {
				return "wrong error"
			}
			return metrics.OutcomeFailure
		}, metrics.OutcomeFailure},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const taskType = "media:upload"
			m := metrics.New(metrics.Options{Version: "test"})
			h := m.TaskMiddleware(tc.outcome)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return tc.handle() }))
			func() {
				defer func() { _ = recover() }()
				_ = h.ProcessTask(context.Background(), asynq.NewTask(taskType, nil))
			}()
			var want strings.Builder
			want.WriteString("# HELP mediaflow_tasks_processed_total Tasks handled, by task type and outcome (success, retry, failure, skipped, rate_limited, waiting).\n")
			want.WriteString("# TYPE mediaflow_tasks_processed_total counter\n")
			for _, o := range append(slices.Clone(outcomes), "unknown") {
				n := 0
				if o == tc.want {
					n = 1
				}
				if n == 0 && o == "unknown" {
					continue
				}
				fmt.Fprintf(&want, "mediaflow_tasks_processed_total{outcome=%q,type=%q} %d\n", o, taskType, n)
			}
			if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want.String()), "mediaflow_tasks_processed_total"); err != nil {
				t.Error(err)
			}
			if got := histogramCount(t, m, "mediaflow_task_duration_seconds", "type", taskType); got != 1 {
				t.Errorf("task_duration_seconds count = %d, want 1", got)
			}
			if got := value(t, m, "mediaflow_tasks_in_progress", "type", taskType); got != 0 {
				t.Errorf("tasks_in_progress = %v after the run ended, want 0", got)
			}
		})
	}
}

var outcomes = []string{
	metrics.OutcomeSuccess, metrics.OutcomeRetry, metrics.OutcomeFailure,
	metrics.OutcomeSkipped, metrics.OutcomeRateLimited, metrics.OutcomeWaiting,
}

func TestTaskMiddlewareInProgress(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	entered, release := make(chan struct{}), make(chan struct{})
	h := m.TaskMiddleware(nil)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error {
		entered <- struct{}{}
		<-release
		return nil
	}))
	done := make(chan error)
	go func() { done <- h.ProcessTask(context.Background(), asynq.NewTask("post:attach", nil)) }()
	<-entered
	if got := value(t, m, "mediaflow_tasks_in_progress", "type", "post:attach"); got != 1 {
		t.Errorf("tasks_in_progress while running = %v, want 1", got)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := value(t, m, "mediaflow_tasks_in_progress", "type", "post:attach"); got != 0 {
		t.Errorf("tasks_in_progress after = %v, want 0", got)
	}
}

func TestInitTaskTypes(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.InitTaskTypes("media:create", "media:upload")

	for _, typ := range []string{"media:create", "media:upload"} {
		for _, o := range outcomes {
			if !hasSeries(t, m, "mediaflow_tasks_processed_total", "type", typ, "outcome", o) {
				t.Errorf("no zero series for type %s outcome %s", typ, o)
			}
		}
	}

	// A type nobody named is folded into "other", keeping the label set
	// bounded.
	h := m.TaskMiddleware(nil)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
	if err := h.ProcessTask(context.Background(), asynq.NewTask("x:"+t.Name(), nil)); err != nil {
		t.Fatal(err)
	}
	if got := value(t, m, "mediaflow_tasks_processed_total", "type", "other", "outcome", metrics.OutcomeSuccess); got != 1 {
		t.Errorf("unknown type counted as other: got %v, want 1", got)
	}
	if hasSeries(t, m, "mediaflow_tasks_processed_total", "type", "x:"+t.Name(), "outcome", metrics.OutcomeSuccess) {
		t.Error("an unnamed task type became a label value")
	}
}

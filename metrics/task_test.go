package metrics_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
)

var errRateLimited = errors.New("swonkie: 429 too many requests")

func isRateLimited(err error) bool { return errors.Is(err, errRateLimited) }

// TestTaskMiddlewareOutcomes runs each kind of handler on a real asynq
// server and checks the counts the middleware recorded for every outcome,
// zeros included.
func TestTaskMiddlewareOutcomes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name     string
		maxRetry int
		// handle is called with the attempt number, from 0.
		handle func(attempt int) error
		want   map[string]float64
	}{
		{
			name:     "succeeds",
			maxRetry: 3,
			handle:   func(int) error { return nil },
			want:     map[string]float64{metrics.OutcomeSuccess: 1},
		},
		{
			// The pipeline's verdicts name their outcome themselves.
			name:     "waits once then succeeds",
			maxRetry: 3,
			handle: func(a int) error {
				if a < 1 {
					return namedOutcome(metrics.OutcomeWaiting)
				}
				return nil
			},
			want: map[string]float64{metrics.OutcomeWaiting: 1, metrics.OutcomeSuccess: 1},
		},
		{
			name:     "fails twice then succeeds",
			maxRetry: 5,
			handle: func(a int) error {
				if a < 2 {
					return errors.New("swonkie: 503")
				}
				return nil
			},
			want: map[string]float64{metrics.OutcomeRetry: 2, metrics.OutcomeSuccess: 1},
		},
		{
			name:     "exhausts its retries",
			maxRetry: 2,
			handle:   func(int) error { return errors.New("swonkie: 503") },
			want:     map[string]float64{metrics.OutcomeRetry: 2, metrics.OutcomeFailure: 1},
		},
		{
			name:     "skips retry",
			maxRetry: 5,
			handle:   func(int) error { return fmt.Errorf("swonkie: 422 caption too long: %w", asynq.SkipRetry) },
			want:     map[string]float64{metrics.OutcomeSkipped: 1},
		},
		{
			name:     "is rate limited then succeeds",
			maxRetry: 1,
			handle: func(a int) error {
				if a < 2 {
					return fmt.Errorf("create media: %w", errRateLimited)
				}
				return nil
			},
			// Two 429s on a budget of one retry: they did not use it up.
			want: map[string]float64{metrics.OutcomeRateLimited: 2, metrics.OutcomeSuccess: 1},
		},
		{
			name:     "is rate limited on its last attempt",
			maxRetry: 0,
			handle:   func(int) error { return errRateLimited },
			// asynq archives a task whose retries are used up before it asks
			// IsFailure, so this is a failure, not a rate_limited retry.
			want: map[string]float64{metrics.OutcomeFailure: 1},
		},
		{
			name:     "panics once",
			maxRetry: 3,
			handle: func(a int) error {
				if a == 0 {
					panic("handler bug")
				}
				return nil
			},
			want: map[string]float64{metrics.OutcomeRetry: 1, metrics.OutcomeSuccess: 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const taskType = "media:create"
			r := redistest.New(t)
			m := metrics.New(metrics.Options{Version: "test"})

			var attempts atomic.Int32
			mux := asynq.NewServeMux()
			mux.Use(m.TaskMiddleware(isRateLimited))
			mux.HandleFunc(taskType, func(ctx context.Context, _ *asynq.Task) error {
				return tc.handle(int(attempts.Add(1)) - 1)
			})
			srv := asynq.NewServer(asynq.RedisClientOpt{Addr: r.Addr, DB: r.DB}, asynq.Config{
				Concurrency:              2,
				IsFailure:                func(err error) bool { return !isRateLimited(err) },
				RetryDelayFunc:           func(int, error, *asynq.Task) time.Duration { return 0 },
				DelayedTaskCheckInterval: 50 * time.Millisecond,
				TaskCheckInterval:        50 * time.Millisecond,
				LogLevel:                 asynq.FatalLevel,
			})
			if err := srv.Start(mux); err != nil {
				t.Fatalf("start asynq server: %v", err)
			}
			t.Cleanup(srv.Shutdown)

			client := asynq.NewClient(asynq.RedisClientOpt{Addr: r.Addr, DB: r.DB})
			t.Cleanup(func() { _ = client.Close() })
			if _, err := client.Enqueue(asynq.NewTask(taskType, nil), asynq.MaxRetry(tc.maxRetry)); err != nil {
				t.Fatalf("enqueue: %v", err)
			}

			var wantRuns float64
			for _, n := range tc.want {
				wantRuns += n
			}
			processed := func() float64 {
				var sum float64
				for _, o := range outcomes {
					sum += value(t, m, "mediaflow_tasks_processed_total", "type", taskType, "outcome", o)
				}
				return sum
			}
			waitFor(t, 20*time.Second, func() bool { return processed() >= wantRuns })
			// Let a wrong extra run (a retry that should not have happened)
			// show up before counting.
			time.Sleep(300 * time.Millisecond)

			var want strings.Builder
			want.WriteString("# HELP mediaflow_tasks_processed_total Tasks handled, by task type and outcome (success, retry, failure, skipped, rate_limited, waiting).\n")
			want.WriteString("# TYPE mediaflow_tasks_processed_total counter\n")
			for _, o := range outcomes {
				fmt.Fprintf(&want, "mediaflow_tasks_processed_total{outcome=%q,type=%q} %v\n", o, taskType, tc.want[o])
			}
			if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want.String()), "mediaflow_tasks_processed_total"); err != nil {
				t.Error(err)
			}
			if got := histogramCount(t, m, "mediaflow_task_duration_seconds", "type", taskType); got != uint64(wantRuns) {
				t.Errorf("task_duration_seconds count = %d, want %v", got, wantRuns)
			}
			if got := value(t, m, "mediaflow_tasks_in_progress", "type", taskType); got != 0 {
				t.Errorf("tasks_in_progress = %v after every run ended, want 0", got)
			}
		})
	}
}

var outcomes = []string{
	metrics.OutcomeSuccess, metrics.OutcomeRetry, metrics.OutcomeFailure,
	metrics.OutcomeSkipped, metrics.OutcomeRateLimited, metrics.OutcomeWaiting,
}

// namedOutcome is an error that says how it is to be counted.
type namedOutcome string

func (n namedOutcome) Error() string       { return "not yet: " + string(n) }
func (n namedOutcome) TaskOutcome() string { return string(n) }

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

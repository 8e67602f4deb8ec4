package tasks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

func status(code int) error {
	return &swonkie.Error{Method: "POST", Endpoint: "/media", StatusCode: code, Message: http.StatusText(code)}
}

var errNoAnswer = &swonkie.Error{Method: "POST", Endpoint: "/media", Err: errors.New("connection reset by peer"), Sent: true}

// TestJudge: every class of error gets one verdict (docs/design.md, I4).
func TestJudge(t *testing.T) {
	t.Parallel()
	throttled := &swonkie.Error{Method: "GET", Endpoint: "/posts", StatusCode: 429, RetryAfter: 7 * time.Second}
	cases := []struct {
		name  string
		err   error
		kind  verdictKind
		delay time.Duration
	}{
		{"500", status(500), retryLater, 0},
		{"502", status(502), retryLater, 0},
		{"503", status(503), retryLater, 0},
		{"408 request timeout", status(408), retryLater, 0},
		{"425 too early", status(425), retryLater, 0},
		{"no answer (reset, timeout)", errNoAnswer, retryLater, 0},
		{"a deadline", context.DeadlineExceeded, retryLater, 0},
		{"an unusable 2xx answer", &swonkie.UnusableAnswerError{Op: "POST /media", Status: 201, Reason: "no id"}, retryLater, 0},
		{"429 waits what it asked, uncounted", throttled, waitRateLimit, 7 * time.Second},
		{"429 named in a wrapped error", wrap(throttled, "list posts"), waitRateLimit, 7 * time.Second},
		{"400", status(400), giveUp, 0},
		{"401", status(401), giveUp, 0},
		{"403", status(403), giveUp, 0},
		{"404", status(404), giveUp, 0},
		{"409", status(409), giveUp, 0},
		{"410", status(410), giveUp, 0},
		{"422", status(422), giveUp, 0},
		{"a refused redirect", status(301), giveUp, 0},
		{"mediaflow's own verdict", permanentf("media %s: processing ended in ERROR", "m"), giveUp, 0},
		{"a source that cannot be read as given", &source.Error{Op: "open", Source: "a.png", Permanent: true, Err: errors.New("not found")}, giveUp, 0},
		{"a source that may come back", &source.Error{Op: "read", Source: "https://x/a.png", Status: 503, Err: errors.New("503")}, retryLater, 0},
		{"not yet: look again", waitFor(3*time.Second, "media is PROCESSING"), pollAgain, 3 * time.Second},
		{"the workspace's budget is spent: its turn, uncounted", wrap(&swonkie.Error{Method: "POST", Endpoint: "/posts",
			Err: &swonkie.DeferredError{Endpoint: "POST /posts", RetryIn: 4 * time.Second, Why: "the call budget"}}, "attach: create post"), pollAgain, 4 * time.Second},
		{"the workspace's active pipelines are at maxActive: its turn, uncounted", &notAdmitted{workspace: "a", max: 2, in: 1500 * time.Millisecond}, pollAgain, 1500 * time.Millisecond},
		{"a verdict already decided", &stepError{v: verdict{kind: giveUp}, err: status(500)}, giveUp, 0},
		{"a permanent error wrapped twice", fmt.Errorf("attach: %w", wrap(status(422), "create post")), giveUp, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := judge(tc.err)
			if v.kind != tc.kind || v.delay != tc.delay {
				t.Errorf("judge = %s (%s), want %s (%s)", v.kind, v.delay, tc.kind, tc.delay)
			}
		})
	}
}

// TestVerdictBudgets: decide turns a retry into a give-up once the step's
// budget (its row's column) is spent, and only a retry.
func TestVerdictBudgets(t *testing.T) {
	t.Parallel()
	tm := DefaultTiming
	byRunsRow, byTimeRow, oneRunRow := rowOf(TypeMediaUpload), rowOf(TypeNotifyWebhook), rowOf(TypeCleanupSweep)
	now := t0.Add(48 * time.Hour)
	cases := []struct {
		name      string
		row       *step
		err       error
		retried   int
		owedSince time.Time
		want      verdictKind
	}{
		{"a step with runs left retries", byRunsRow, status(503), tm.MaxRetry - 1, time.Time{}, retryLater},
		{"a step out of runs gives up", byRunsRow, status(503), tm.MaxRetry, time.Time{}, giveUp},
		{"a 429 never uses the budget up", byRunsRow, &swonkie.Error{StatusCode: 429}, tm.MaxRetry + 5, time.Time{}, waitRateLimit},
		{"a poll never uses the budget up", byRunsRow, waitFor(time.Second, "PROCESSING"), tm.MaxRetry + 5, time.Time{}, pollAgain},
		{"a permanent error gives up at once", byRunsRow, status(400), 0, time.Time{}, giveUp},
		{"a webhook within its time retries", byTimeRow, status(503), 100000, now.Add(-tm.WebhookRetryFor + time.Minute), retryLater},
		{"a webhook past its time gives up", byTimeRow, status(503), 3, now.Add(-tm.WebhookRetryFor - time.Minute), giveUp},
		{"the sweep is not retried", oneRunRow, status(503), 0, time.Time{}, giveUp},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := decide(tc.row, tc.err, tc.retried, tm, tc.owedSince, now).kind; got != tc.want {
				t.Errorf("decide = %s, want %s", got, tc.want)
			}
		})
	}
	// asynq's own budget is always one more than the step's, so the step
	// gives up (and records why) first.
	if got := asynqMaxRetry(byRunsRow, tm); got != tm.MaxRetry+1 {
		t.Errorf("asynq MaxRetry of a step = %d, want %d", got, tm.MaxRetry+1)
	}
	if got := asynqMaxRetry(oneRunRow, tm); got != 0 {
		t.Errorf("asynq MaxRetry of the sweep = %d, want 0", got)
	}
	if got := asynqMaxRetry(byTimeRow, tm); time.Duration(got)*tm.RetryBase/2 < tm.WebhookRetryFor {
		t.Errorf("asynq MaxRetry of a webhook = %d runs: at the shortest backoff they do not last %s", got, tm.WebhookRetryFor)
	}
}

// TestVerdictForAsynq: what asynq is told (RetryDelayFunc, IsFailure,
// SkipRetry) and what the metrics middleware counts agree with the verdict.
func TestVerdictForAsynq(t *testing.T) {
	t.Parallel()
	tm := DefaultTiming
	cases := []struct {
		name      string
		err       error
		failure   bool   // IsFailure: uses asynq's retry budget
		outcome   string // mediaflow_tasks_processed_total
		skipRetry bool
		minDelay  time.Duration
		maxDelay  time.Duration
	}{
		{"retry", &stepError{v: verdict{kind: retryLater}, err: status(503)}, true, metrics.OutcomeRetry, false, tm.RetryBase / 2, tm.RetryBase},
		{"rate limited", &stepError{v: verdict{kind: waitRateLimit, delay: 3 * time.Second}, err: status(429)}, false,
			metrics.OutcomeRateLimited, false, 4 * time.Second, 4*time.Second + tm.RetryBase},
		{"waiting", &stepError{v: verdict{kind: pollAgain, delay: 2 * time.Second}, err: errors.New("PROCESSING")}, false,
			metrics.OutcomeWaiting, false, 2 * time.Second, 2 * time.Second},
		{"gave up", &stepError{v: verdict{kind: giveUp}, err: status(400)}, false, metrics.OutcomeFailure, true, 0, tm.RetryBase},
		{"a bad payload", fmt.Errorf("bad payload: %w", asynq.SkipRetry), true, metrics.OutcomeSkipped, true, 0, tm.RetryBase},
		{"a worker that died: at once", asynq.ErrLeaseExpired, true, metrics.OutcomeRetry, false, 0, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := isFailure(tc.err); got != tc.failure {
				t.Errorf("isFailure = %v, want %v", got, tc.failure)
			}
			if got := taskOutcome(tc.err); got != tc.outcome {
				t.Errorf("taskOutcome = %q, want %q", got, tc.outcome)
			}
			if got := errors.Is(tc.err, asynq.SkipRetry); got != tc.skipRetry {
				t.Errorf("wraps SkipRetry = %v, want %v", got, tc.skipRetry)
			}
			if tc.skipRetry {
				return // asynq archives it; there is no delay
			}
			for range 20 {
				if d := tm.retryDelay(0, tc.err, nil); d < tc.minDelay || d > tc.maxDelay {
					t.Fatalf("retryDelay = %s, want within [%s, %s]", d, tc.minDelay, tc.maxDelay)
				}
			}
		})
	}
	if got := taskOutcome(nil); got != metrics.OutcomeSuccess {
		t.Errorf("taskOutcome(nil) = %q", got)
	}
	// The backoff grows, and stops growing at RetryMax.
	if d := tm.retryDelay(30, status(503), nil); d < tm.RetryMax/2 || d > tm.RetryMax {
		t.Errorf("retryDelay after 30 failures = %s, want within [%s, %s]", d, tm.RetryMax/2, tm.RetryMax)
	}
}

// TestVerdictOfARemoval: what an answer to a delete means to the cleanup.
func TestVerdictOfARemoval(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		err  error
		want removal
	}{
		{"deleted", nil, removed},
		{"404: gone already", status(404), removed},
		{"410: gone already", status(410), removed},
		{"400: refused for good", status(400), removeRefused},
		{"403: refused for good", status(403), removeRefused},
		{"409: refused for good", status(409), removeRefused},
		{"500: later", status(500), removeLater},
		{"429: later", status(429), removeLater},
		{"no answer: later", errNoAnswer, removeLater},
	}
	for _, tc := range cases {
		if got := judgeRemoval(tc.err); got != tc.want {
			t.Errorf("%s: judgeRemoval = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestVerdictRetryAtOnce: a passing 5xx inside a step is tried again at
// once, a 429 or a permanent error is not, and each failed try but the
// last is reported. A removal nobody comes back for (retryUnrecorded)
// waits a 429 out instead, uncounted, up to rateWaits times.
func TestVerdictRetryAtOnce(t *testing.T) {
	t.Parallel()
	tm := Timing{RetryBase: time.Millisecond, RetryMax: time.Millisecond}
	cases := []struct {
		name       string
		unrecorded bool
		errs       []error // what each try returns; the last one repeats
		wantRuns   int
		wantErr    bool
	}{
		{"succeeds first", false, []error{nil}, 1, false},
		{"one 503, then succeeds", false, []error{status(503), nil}, 2, false},
		{"503 every time: gives up after atOnceTries", false, []error{status(503)}, atOnceTries, true},
		{"429: the step's verdict waits instead", false, []error{status(429)}, 1, true},
		{"permanent: no second try", false, []error{status(400)}, 1, true},
		{"unrecorded: a 429 is waited out", true, []error{status(429), nil}, 2, false},
		{"unrecorded: 429s do not count against the tries", true, []error{status(429), status(503), status(429), nil}, 4, false},
		{"unrecorded: 429 every time: gives up after rateWaits waits", true, []error{status(429)}, rateWaits + 1, true},
		{"unrecorded: 503 every time: gives up after atOnceTries", true, []error{status(503)}, atOnceTries, true},
		{"unrecorded: permanent: no second try", true, []error{status(400)}, 1, true},
	}
	for _, tc := range cases {
		retry := retryAtOnce
		if tc.unrecorded {
			retry = retryUnrecorded
		}
		runs, reported := 0, 0
		err := retry(context.Background(), tm, func() error {
			e := tc.errs[min(runs, len(tc.errs)-1)]
			runs++
			return e
		}, func(int, error) { reported++ })
		if runs != tc.wantRuns || (err != nil) != tc.wantErr || reported != max(0, runs-1) {
			t.Errorf("%s: %d runs, %d reported, error %v; want %d runs, error %v", tc.name, runs, reported, err, tc.wantRuns, tc.wantErr)
		}
	}
}

package tasks

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// verdictKind is what becomes of a step whose run failed.
type verdictKind int

const (
	// retryLater: a transient failure; back off and try again, counted
	// against the step's retry budget.
	retryLater verdictKind = iota
	// waitRateLimit: Swonkie answered 429; wait what it asked, uncounted.
	waitRateLimit
	// pollAgain: not a failure at all: what the step waits for (processing,
	// publication, another run's claim) has not happened yet.
	pollAgain
	// failPipeline: permanent, or the budget is used up: the pipeline fails
	// (a cleanup or notification stops and stays owed for the sweep).
	failPipeline
)

func (k verdictKind) String() string {
	return [...]string{"retry", "rate_limited", "waiting", "failed"}[k]
}

// verdict is decided once per error (judge) and read by everything that
// has to act on it: the handler (record and fail), asynq's RetryDelayFunc
// and IsFailure, and the metrics middleware (TaskOutcome).
type verdict struct {
	kind  verdictKind
	delay time.Duration // for waitRateLimit and pollAgain
}

// notYet is a step's "look again after d": what it waits for has not
// happened yet.
type notYet struct {
	after time.Duration
	what  string
}

func (e *notYet) Error() string { return e.what }

func waitFor(d time.Duration, format string, args ...any) error {
	return &notYet{after: d, what: fmt.Sprintf(format, args...)}
}

// judge decides from the error alone; the run's budget turns a retryLater
// into a failPipeline (run.failed).
func judge(err error) verdict {
	var se *stepError
	var ny *notYet
	switch {
	case errors.As(err, &se):
		return se.v
	case errors.As(err, &ny):
		return verdict{kind: pollAgain, delay: ny.after}
	case IsRateLimited(err):
		d, _ := swonkie.RetryAfter(err)
		return verdict{kind: waitRateLimit, delay: d}
	case IsPermanent(err):
		return verdict{kind: failPipeline}
	}
	return verdict{kind: retryLater}
}

// stepError is what a failed run returns to asynq: the step's error with
// its verdict. A failPipeline verdict also wraps asynq.SkipRetry, so asynq
// archives the task instead of retrying it.
type stepError struct {
	v   verdict
	err error
}

func (e *stepError) Error() string { return e.err.Error() }

func (e *stepError) Unwrap() []error {
	if e.v.kind == failPipeline {
		return []error{e.err, asynq.SkipRetry}
	}
	return []error{e.err}
}

// TaskOutcome names the verdict for the metrics middleware (metrics reads
// it through an interface, since it cannot import this package).
func (e *stepError) TaskOutcome() string {
	switch e.v.kind {
	case waitRateLimit:
		return "rate_limited"
	case pollAgain:
		return "waiting"
	case failPipeline:
		return "failure"
	}
	return "retry"
}

// retryDelay is asynq's RetryDelayFunc: the verdict's wait for a 429 or a
// poll, at once for a worker that died (lease expired),
// exponential backoff with jitter for the rest.
func (t Timing) retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return 0
	}
	v := judge(err)
	switch v.kind {
	case waitRateLimit:
		// asynq keeps retry times in whole seconds, rounded down: one more
		// second makes sure we never come back before the server said,
		// and a little jitter keeps throttled steps from returning at once.
		return v.delay + time.Second + rand.N(t.RetryBase)
	case pollAgain:
		return v.delay
	}
	d := backoff(t.RetryBase, t.RetryMax, n)
	return d/2 + rand.N(d/2+1)
}

// isFailure is asynq's IsFailure: only a retryLater uses up the retry
// budget. Waits that are not the step's fault never do, and since the
// step's own budget (Timing.MaxRetry) ends a pipeline one attempt before
// asynq's (MaxRetry+1), asynq never archives a task that is only waiting.
func isFailure(err error) bool {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return true
	}
	return judge(err).kind == retryLater
}

// Errors the Go API returns.
var (
	// ErrKeyReused: an idempotency key came back with a different request.
	ErrKeyReused = errors.New("idempotency key already used for a different request")
	// ErrFinished: the pipeline already reached a terminal state.
	ErrFinished = errors.New("pipeline already finished")
	// ErrAlreadyPublished: the post is out; a cancel comes too late.
	ErrAlreadyPublished = errors.New("post already published")
	// ErrNoWebhook: a redelivery was asked of a pipeline that has sent no
	// event.
	ErrNoWebhook = errors.New("pipeline has no webhook event to send")
)

// PermanentError is a failure that no retry can fix: the step stops at once
// and the pipeline fails (with compensation). Errors from Swonkie and from
// media sources say so themselves; this type marks mediaflow's own
// verdicts (a media that ended in ERROR, a file type Swonkie cannot take).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

func permanentf(format string, args ...any) error {
	return &PermanentError{Err: fmt.Errorf(format, args...)}
}

// IsPermanent reports whether err stops a step without retries: a Swonkie
// 4xx other than 408/425/429, a media source that cannot be read as
// given, or one of mediaflow's own verdicts.
func IsPermanent(err error) bool {
	var pe *PermanentError
	return errors.As(err, &pe) || swonkie.IsPermanent(err) || source.IsPermanent(err)
}

// IsRateLimited reports a 429: the step waits as long as the server asks
// and the wait does not count against its retries.
func IsRateLimited(err error) bool { return swonkie.IsRateLimited(err) }

// statusOf is the HTTP status behind err, 0 when there was none.
func statusOf(err error) int {
	if s := swonkie.StatusCode(err); s != 0 {
		return s
	}
	var se *source.Error
	if errors.As(err, &se) {
		return se.Status
	}
	return 0
}

// wrap names the step and the thing in an error, keeping its kind.
func wrap(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}

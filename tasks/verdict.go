package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Every retry and give-up decision is made in this file, from the error
// and the step table's budget column: the handler (run.failed), asynq's
// RetryDelayFunc and IsFailure, the metrics middleware (taskOutcome), the
// reads a step repeats at once (retryAtOnce) and what a removal's answer
// means (judgeRemoval) all ask it.

// verdictKind is what becomes of a step whose run failed.
type verdictKind int

const (
	// retryLater: a transient failure; back off and try again, counted
	// against the step's budget.
	retryLater verdictKind = iota
	// waitRateLimit: Swonkie answered 429; wait what it asked, uncounted.
	waitRateLimit
	// pollAgain: not a failure at all: what the step waits for (processing,
	// publication, another run's claim) has not happened yet.
	pollAgain
	// giveUp: permanent, or the budget is spent. What that leaves on the
	// record is the step table's onFailure column: a pipeline step fails
	// its pipeline, a webhook is given up, a cleanup stays owed for the
	// sweep.
	giveUp
)

// String is the verdict's one name: the outcome label of
// mediaflow_tasks_processed_total and the outcome of its history event.
func (k verdictKind) String() string {
	return [...]string{metrics.OutcomeRetry, metrics.OutcomeRateLimited, metrics.OutcomeWaiting, metrics.OutcomeFailure}[k]
}

// verdict is decided once per error and read by everything that has to
// act on it.
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

// judge decides from the error alone; decide adds the step's budget.
func judge(err error) verdict {
	var se *stepError
	var ny *notYet
	switch {
	case errors.As(err, &se):
		return se.v
	case errors.As(err, &ny):
		return verdict{kind: pollAgain, delay: ny.after}
	case isDeferred(err):
		// The workspace's budget or active places are spent for now: the
		// task gives its slot back until its turn (admission.go). Like a
		// poll, it is no failure and spends no retry.
		d, _ := deferredFor(err)
		return verdict{kind: pollAgain, delay: d}
	case IsRateLimited(err):
		d, _ := swonkie.RetryAfter(err)
		return verdict{kind: waitRateLimit, delay: d}
	case IsPermanent(err):
		return verdict{kind: giveUp}
	}
	return verdict{kind: retryLater}
}

// budgetKind is how long a failing step keeps trying: the budget column
// of the step table.
type budgetKind int

const (
	// byRuns: Timing.MaxRetry failed runs (waits that are not the step's
	// fault do not count).
	byRuns budgetKind = iota
	// byTime: until Timing.WebhookRetryFor has passed since the work became
	// owed (a webhook receiver may be down for hours).
	byTime
	// oneRun: a failed run is not retried (the sweep: the next slot does
	// the same work).
	oneRun
)

// decide is the verdict on a failed run: judge's, turned into a give-up
// once the step's budget is spent. retried counts the task's failed runs
// before this one; owedSince is when the work became owed (byTime).
func decide(row *step, err error, retried int, t Timing, owedSince, now time.Time) verdict {
	v := judge(err)
	if v.kind != retryLater {
		return v
	}
	switch row.budget {
	case byRuns:
		if retried >= t.MaxRetry {
			v.kind = giveUp
		}
	case byTime:
		if now.Sub(owedSince) > t.WebhookRetryFor {
			v.kind = giveUp
		}
	case oneRun:
		v.kind = giveUp
	}
	return v
}

// asynqMaxRetry is the MaxRetry a task of row is enqueued with: one more
// than the step's own budget, so the step gives up (and records why)
// before asynq archives a task that is only waiting. A budget by time
// gets enough runs to last that time at the shortest backoff.
func asynqMaxRetry(row *step, t Timing) int {
	switch row.budget {
	case byTime:
		return int(2*t.WebhookRetryFor/t.RetryBase) + 1
	case oneRun:
		return 0
	}
	return t.MaxRetry + 1
}

// stepError is what a failed run returns to asynq: the step's error with
// its verdict. A giveUp verdict also wraps asynq.SkipRetry, so asynq
// archives the task instead of retrying it.
type stepError struct {
	v   verdict
	err error
}

func (e *stepError) Error() string { return e.err.Error() }

func (e *stepError) Unwrap() []error {
	if e.v.kind == giveUp {
		return []error{e.err, asynq.SkipRetry}
	}
	return []error{e.err}
}

// taskOutcome names, for the metrics middleware, what asynq does with a
// task whose handler returned err. Every handler of this package returns
// a stepError (or nil); a bad payload is archived on purpose (skipped).
func taskOutcome(err error) string {
	var se *stepError
	switch {
	case err == nil:
		return metrics.OutcomeSuccess
	case errors.As(err, &se):
		return se.v.kind.String()
	case errors.Is(err, asynq.SkipRetry):
		return metrics.OutcomeSkipped
	}
	return metrics.OutcomeRetry
}

// retryDelay is asynq's RetryDelayFunc: the verdict's wait for a 429 or a
// poll, at once for a worker that died (lease expired), exponential
// backoff with jitter for the rest.
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

// isFailure is asynq's IsFailure: only a retryLater uses up asynq's retry
// budget. Waits that are not the step's fault never do, and since the
// step's own budget ends first (asynqMaxRetry), asynq never archives a
// task that is only waiting.
func isFailure(err error) bool {
	if errors.Is(err, asynq.ErrLeaseExpired) {
		return true
	}
	return judge(err).kind == retryLater
}

// atOnceTries is how often a step tries a read at once before its failure
// becomes the step's: one passing 5xx among the hundred reads of a search
// must not fail the search.
const atOnceTries = 3

// retryAtOnce runs fn until it succeeds, fails in a way that trying again at
// once cannot help (anything but retryLater: a 429 waits through the
// step's verdict instead), or atOnceTries runs failed. Each failure but the
// last is passed to failed (for a log line) before the next try.
func retryAtOnce(ctx context.Context, t Timing, fn func() error, failed func(try int, err error)) error {
	for try := 0; ; try++ {
		err := fn()
		if err == nil || try == atOnceTries-1 || judge(err).kind != retryLater {
			return err
		}
		if failed != nil {
			failed(try, err)
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff(t.RetryBase, t.RetryMax, try)):
		}
	}
}

// rateWaits bounds how many 429s retryUnrecorded waits out.
const rateWaits = 10

// retryUnrecorded is retryAtOnce for a removal nobody will come back for:
// an entry whose id could not be written (Redis refusing or gone) exists
// nowhere but in the run that made it. A 429 is waited out where it is,
// as long as Swonkie asks (up to rateWaits times, uncounted), rather than
// handed to a step's verdict that will not bring the removal back: given
// up, the entry would be left in the workspace with no record naming it.
// failed hears each 429 waited out with try -1.
func retryUnrecorded(ctx context.Context, t Timing, fn func() error, failed func(try int, err error)) error {
	waits := 0
	return retryAtOnce(ctx, t, func() error {
		for {
			err := fn()
			v := judge(err)
			if err == nil || v.kind != waitRateLimit || waits == rateWaits {
				return err
			}
			waits++
			if failed != nil {
				failed(-1, err)
			}
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(max(v.delay, t.RetryBase)):
			}
		}
	}, failed)
}

// removal is what an answer to a removal (deleting a media or a post,
// unscheduling, taking our media off a post) means.
type removal int

const (
	// removed: done, or there was nothing left to remove (404, 410).
	removed removal = iota
	// removeLater: a transient failure; the cleanup retries.
	removeLater
	// removeRefused: Swonkie refuses for good; mediaflow stops trying and
	// says so (media "left behind", a post left as is).
	removeRefused
)

func judgeRemoval(err error) removal {
	switch {
	case err == nil, swonkie.IsNotFound(err):
		return removed
	case IsPermanent(err):
		return removeRefused
	}
	return removeLater
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

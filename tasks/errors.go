package tasks

import (
	"errors"
	"fmt"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Errors the Go API returns.
var (
	// ErrKeyReused: an idempotency key came back with a different request.
	ErrKeyReused = errors.New("idempotency key already used for a different request")
	// ErrFinished: the pipeline already reached a terminal state.
	ErrFinished = errors.New("pipeline already finished")
	// ErrAlreadyPublished: the post is out; a cancel comes too late.
	ErrAlreadyPublished = errors.New("post already published")
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

// errRestart asks for an immediate retry that is not a failure: the step
// gave up a stale media entry and must start again with a fresh one.
var errRestart = errors.New("restarting with a fresh media entry")

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

// isFailure is asynq's IsFailure: waits that are not the step's fault do
// not burn its retry budget.
func isFailure(err error) bool { return !IsRateLimited(err) && !errors.Is(err, errRestart) }

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

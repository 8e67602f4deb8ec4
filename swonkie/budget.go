package swonkie

import (
	"context"
	"time"
)

// Budget paces the client's API calls, possibly together with other
// processes calling the same workspace. endpoint is the call's method and
// endpoint template ("POST /media"); a budget may pace or pause per
// endpoint or for the whole workspace, as it sees fit.
type Budget interface {
	// Wait returns when the call may be sent, or with ctx's error. ctx
	// carries the call's client span (trace.SpanFromContext): the client
	// adds the wait to it as an event, and a budget may add what only it
	// knows (a pause, which limiter).
	Wait(ctx context.Context, endpoint string) error
	// Throttled tells the budget the server answered endpoint with a 429
	// asking to wait retryAfter (already capped by MaxRetryAfter; at least
	// DefaultThrottle, also when it did not say).
	Throttled(endpoint string, retryAfter time.Duration)
}

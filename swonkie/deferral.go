package swonkie

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A caller that holds something scarce while it waits for the budget (a
// worker slot other workspaces could use) can say how long it is willing
// to hold it: a budget that would make the call wait longer refuses it
// with a *DeferredError naming when to come back, and the caller gives
// the slot back until then. Without a limit a budget waits as long as it
// takes.

type holdKey struct{}

// HoldAtMost returns ctx with the longest wait for the budget a call
// made with it accepts; 0 lifts a limit ctx had (work that must not be
// put off, such as deleting what nothing else would).
func HoldAtMost(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, holdKey{}, d)
}

// HoldLimit is the limit HoldAtMost set on ctx, if any.
func HoldLimit(ctx context.Context) (time.Duration, bool) {
	d, ok := ctx.Value(holdKey{}).(time.Duration)
	return d, ok && d > 0
}

// DeferredError is a call the budget refused to hold for longer than the
// caller accepts (HoldAtMost): nothing was sent; the caller should come
// back after RetryIn, a turn the budget handed out so that the callers
// it deferred return at about the pace the budget can serve them.
type DeferredError struct {
	Endpoint string
	RetryIn  time.Duration
	// Why names what is spent ("the call budget", "a 429 pause").
	Why string
}

func (e *DeferredError) Error() string {
	return fmt.Sprintf("%s: %s of the workspace is spent for now; its turn comes in %v", e.Endpoint, e.Why, e.RetryIn.Round(time.Millisecond))
}

// Deferred reports whether err is a call the budget deferred, and when
// to come back.
func Deferred(err error) (time.Duration, bool) {
	var de *DeferredError
	if errors.As(err, &de) {
		return de.RetryIn, true
	}
	return 0, false
}

package tasks

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/hibiken/asynq"
	"github.com/mediaflow/mediaflow/swonkie"
)

// retryDelay is asynq's RetryDelayFunc: a 429 waits what its Retry-After
// asked; a restart or a worker that died (lease expired) goes again at
// once; anything else backs off exponentially with jitter.
func (t Timing) retryDelay(n int, err error, _ *asynq.Task) time.Duration {
	if d, ok := swonkie.RetryAfter(err); ok {
		// asynq keeps retry times in whole seconds, rounded down: one more
		// second makes sure we never come back before the server said,
		// and a little jitter keeps throttled steps from returning at once.
		return d + time.Second + rand.N(t.RetryBase)
	}
	if errors.Is(err, errRestart) || errors.Is(err, asynq.ErrLeaseExpired) {
		return 0
	}
	d := backoff(t.RetryBase, t.RetryMax, n)
	return d/2 + rand.N(d/2+1)
}

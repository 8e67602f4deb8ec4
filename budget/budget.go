// Package budget is the Swonkie call budget a fleet of workers shares: a
// rate and a burst per workspace, kept in Redis (GCRA on the server's
// clock, internal/rdb), and the pauses a 429 asks for, so that every worker
// on the same Redis paces as one. It plugs into swonkie.Config.Budget.
package budget

import (
	"context"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Timing of the fleet budget's Redis use.
const (
	// budgetAskTimeout bounds one question to Redis: a Redis that hangs
	// must not hold every API call much longer than a slow one would.
	budgetAskTimeout = 500 * time.Millisecond
	// budgetRetryRedis is how long the fallback is used before Redis is
	// asked again, so an outage costs one failed question per interval
	// rather than one per call.
	budgetRetryRedis = 2 * time.Second
)

// NewFleet returns the Swonkie call budget every worker on the same
// Redis shares: ratePerSec calls per second and burst calls at once for
// the workspace of apiID, whatever the number of workers (GCRA in Redis,
// see rdb.Budget). A 429 with Retry-After seen by any worker holds that
// endpoint for all of them until the time asked. The workspace is known
// to Redis only by a hash of apiID.
//
// When Redis cannot be asked (down, unreachable, slower than half a
// second) each process falls back to a limiter of its own at the same
// rate and burst, and asks Redis again every two seconds; the outage is
// logged once when it starts and once when it ends. While that lasts a
// fleet of N workers may send up to N times the rate, but pauses this
// process learnt of stay in force. Since pipelines also need Redis, such
// spells are short in practice.
//
// ratePerSec <= 0 means swonkie.DefaultRateLimit, +Inf no pacing (pauses
// still hold); burst <= 0 means swonkie.DefaultBurst. m may be nil.
func NewFleet(r redis.UniversalClient, apiID string, ratePerSec float64, burst int, m *metrics.Metrics, log zerolog.Logger) swonkie.Budget {
	if ratePerSec <= 0 || math.IsNaN(ratePerSec) {
		ratePerSec = float64(swonkie.DefaultRateLimit)
	}
	if burst <= 0 {
		burst = swonkie.DefaultBurst
	}
	return &fleetBudget{
		store:  rdb.NewBudget(r, rdb.BudgetWorkspace(apiID)),
		rate:   ratePerSec,
		burst:  burst,
		local:  rate.NewLimiter(rate.Limit(ratePerSec), burst),
		m:      m,
		log:    log,
		now:    time.Now,
		paused: map[string]time.Time{},
		shown:  map[string]bool{},
	}
}

type fleetBudget struct {
	store *rdb.Budget
	rate  float64
	burst int
	local *rate.Limiter
	m     *metrics.Metrics
	log   zerolog.Logger
	now   func() time.Time

	mu sync.Mutex
	// redisDownUntil: the fallback is in use until then.
	redisDownUntil time.Time
	redisDown      bool
	// paused are this process's own holds, by endpoint: they work with
	// Redis down too.
	paused map[string]time.Time
	// shown is the pause state last put in the gauge, by endpoint.
	shown map[string]bool
}

func (b *fleetBudget) Wait(ctx context.Context, endpoint string) error {
	start := b.now()
	for {
		if d := b.localPause(endpoint); d > 0 {
			b.showPaused(endpoint, true)
			if err := budgetSleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		if !b.useRedis() {
			break
		}
		actx, cancel := context.WithTimeout(ctx, budgetAskTimeout)
		ok, wait, paused, err := b.store.Take(actx, endpoint, b.rate, b.burst, time.Time{})
		cancel()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			b.redisFailed(err)
			break
		}
		b.redisAnswered()
		b.showPaused(endpoint, paused)
		if ok {
			b.observe(metrics.LimiterFleet, start)
			return nil
		}
		// A little jitter, so waiters that got the same answer do not all
		// come back in the same millisecond and lose to each other again.
		if err := budgetSleep(ctx, wait+rand.N(wait/10+time.Millisecond)); err != nil {
			return err
		}
	}
	if err := b.local.Wait(ctx); err != nil {
		return err
	}
	b.observe(metrics.LimiterLocal, start)
	return nil
}

func (b *fleetBudget) Throttled(endpoint string, retryAfter time.Duration) {
	if retryAfter <= 0 {
		return
	}
	field := endpoint
	if field == "" {
		field = rdb.AllEndpoints
	}
	b.mu.Lock()
	if until := b.now().Add(retryAfter); until.After(b.paused[field]) {
		b.paused[field] = until
	}
	b.mu.Unlock()
	b.showPaused(endpoint, true)
	if !b.useRedis() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), budgetAskTimeout)
	defer cancel()
	if _, err := b.store.Pause(ctx, field, retryAfter, time.Time{}); err != nil {
		b.redisFailed(err)
		return
	}
	b.redisAnswered()
}

// localPause is how long this process's own holds keep endpoint waiting.
func (b *fleetBudget) localPause(endpoint string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	until := b.paused[endpoint]
	if all := b.paused[rdb.AllEndpoints]; all.After(until) {
		until = all
	}
	for k, u := range b.paused {
		if !u.After(now) {
			delete(b.paused, k)
		}
	}
	return until.Sub(now)
}

func (b *fleetBudget) useRedis() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.now().Before(b.redisDownUntil)
}

func (b *fleetBudget) redisFailed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.redisDownUntil = b.now().Add(budgetRetryRedis)
	if !b.redisDown {
		b.redisDown = true
		b.log.Warn().Err(err).Float64("rate", b.rate).Int("burst", b.burst).
			Msg("Swonkie fleet budget: Redis cannot be asked; this process paces its calls alone until it can")
	}
}

func (b *fleetBudget) redisAnswered() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.redisDown {
		b.redisDown = false
		b.log.Info().Msg("Swonkie fleet budget: Redis answers again; calls are paced fleet-wide")
	}
}

func (b *fleetBudget) showPaused(endpoint string, paused bool) {
	if b.m == nil {
		return
	}
	label := endpoint
	if label == "" || label == rdb.AllEndpoints {
		label = metrics.BudgetAllEndpoints
	}
	b.mu.Lock()
	changed := b.shown[label] != paused
	b.shown[label] = paused
	b.mu.Unlock()
	if changed {
		b.m.BudgetPaused(label, paused)
	}
}

func (b *fleetBudget) observe(limiter string, start time.Time) {
	if b.m != nil {
		b.m.BudgetWaited(limiter, b.now().Sub(start))
	}
}

// budgetSleep waits d or until ctx ends.
func budgetSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

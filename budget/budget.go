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
	// askTimeout bounds one question to Redis: a Redis that hangs must not
	// hold every API call much longer than a slow one would.
	askTimeout = 500 * time.Millisecond
	// retryRedis is how long the fallback is used before Redis is asked
	// again, so an outage costs one failed question per interval rather
	// than one per call.
	retryRedis = 2 * time.Second
	// leaseHorizon is how far ahead one lease may reserve send times: the
	// callers waiting in this process get their turns in one round trip,
	// and no process holds more of the fleet's budget than that.
	leaseHorizon = 250 * time.Millisecond
	// leaseSlack is how late a leased send time may still be used; the
	// script's tolerance shrinks by as much, so that sends that late still
	// keep any second within rate + burst. Later than that it is dropped.
	leaseSlack = 20 * time.Millisecond
	// maxLease caps the send times one lease asks for.
	maxLease = 64
	// pauseRefresh: at an unlimited rate nothing is paced, and Redis is
	// asked only for the pauses, at most this often per process.
	pauseRefresh = 250 * time.Millisecond
)

// Fleet is the Swonkie call budget every worker on the same Redis shares
// (see NewFleet). It is safe for concurrent use; Close it when done.
type Fleet struct {
	store *rdb.Budget
	turns *rdb.Turns
	rate  float64
	burst int
	m     *metrics.Metrics
	log   zerolog.Logger
	now   func() time.Time
	peers *presence

	mu sync.Mutex
	// slots are leased send times, on this process's clock, earliest
	// first.
	slots []time.Time
	// asking is closed when the question to Redis in flight is answered;
	// nil when none is.
	asking chan struct{}
	// needy counts the callers in Wait that hold no send time yet: a lease
	// asks for all of them at once.
	needy int
	// notBefore: the budget is spent until then (Redis said so); nobody
	// asks again before. spent: the last lease got fewer send times than
	// it asked for, or only later ones: this process's callers outrun its
	// share.
	notBefore time.Time
	spent     bool
	// demand is this process's calls per second, decayed over about a
	// second (demandAt: when last brought up to date).
	demand   float64
	demandAt time.Time
	// fleet are the pauses Redis told of, until when (this process's
	// clock), read at pausesRead; own are the pauses of 429s seen here,
	// which hold with Redis down too. By endpoint; rdb.AllEndpoints holds
	// every one.
	fleet      map[string]time.Time
	pausesRead time.Time
	own        map[string]time.Time
	// shown is the pause state last put in the gauge, by endpoint.
	shown map[string]bool
	// redisDownUntil: the fallback (local) is in use until then.
	redisDownUntil time.Time
	redisDown      bool
	local          *rate.Limiter
	// rejoinUntil: after an outage, calls keep to local too until then
	// (see rejoin).
	rejoinUntil time.Time

	closeOnce sync.Once
}

// NewFleet returns the Swonkie call budget every worker on the same
// Redis shares: ratePerSec calls per second and burst calls at once for
// the workspace of apiID, whatever the number of workers (GCRA in Redis,
// see rdb.Budget). A 429 with Retry-After seen by any worker holds that
// endpoint for all of them until the time asked. The workspace is known
// to Redis only by a hash of apiID.
//
// A round trip to Redis serves every call of this process waiting at that
// moment: it leases their send times at once, up to 250 ms ahead. At an
// unlimited rate nothing is leased, and Redis is asked only for the
// pauses, at most every 250 ms.
//
// When Redis cannot be asked (down, unreachable, slower than half a
// second) each process paces itself with a limiter of its own at the
// rate (and burst) divided by the processes it last saw sharing the
// budget, at least one call a second, and asks Redis again every two
// seconds; the outage is logged once when it starts and once when it
// ends. Pauses this process learnt of stay in force.
//
// ratePerSec <= 0 means swonkie.DefaultRateLimit, +Inf no pacing (pauses
// still hold); burst <= 0 means swonkie.DefaultBurst. m may be nil.
func NewFleet(r redis.UniversalClient, apiID string, ratePerSec float64, burst int, m *metrics.Metrics, log zerolog.Logger) *Fleet {
	if ratePerSec <= 0 || math.IsNaN(ratePerSec) {
		ratePerSec = float64(swonkie.DefaultRateLimit)
	}
	if burst <= 0 {
		burst = swonkie.DefaultBurst
	}
	store := rdb.NewBudget(r, rdb.BudgetWorkspace(apiID))
	b := &Fleet{
		store: store,
		turns: rdb.NewBudgetTurns(r, rdb.BudgetWorkspace(apiID)),
		rate:  ratePerSec,
		burst: burst,
		m:     m,
		log:   log,
		now:   time.Now,
		peers: newPresence(store),
		fleet: map[string]time.Time{},
		own:   map[string]time.Time{},
		shown: map[string]bool{},
	}
	b.peers.start()
	return b
}

// Close stops telling Redis this process shares the budget. Calls may
// still wait on it; a second Close does nothing.
func (b *Fleet) Close() {
	b.closeOnce.Do(b.peers.shutdown)
}

var _ swonkie.Budget = (*Fleet)(nil)

func (b *Fleet) unlimited() bool { return math.IsInf(b.rate, 1) }

// Wait blocks until a call to endpoint may go, or ctx ends. When ctx
// limits how long the caller holds on (swonkie.HoldAtMost) and the
// budget is spent (or the endpoint paused) for longer, it returns a
// *swonkie.DeferredError instead, with the caller's turn (deferral.go).
func (b *Fleet) Wait(ctx context.Context, endpoint string) error {
	start := b.now()
	hold, holdLimited := swonkie.HoldLimit(ctx)
	// overHold: waiting d more would hold the caller past its limit.
	overHold := func(d time.Duration) bool { return holdLimited && b.now().Sub(start)+d > hold }
	b.mu.Lock()
	b.needy++
	b.mu.Unlock()
	needy := true
	defer func() {
		if needy {
			b.mu.Lock()
			b.needy--
			b.mu.Unlock()
		}
	}()
	for {
		if d := b.pauseLeft(endpoint); d > 0 {
			b.showPaused(endpoint, true)
			if overHold(d) {
				return b.deferCall(ctx, endpoint, "a 429 pause", d, start)
			}
			if err := sleep(ctx, d); err != nil {
				return err
			}
			continue
		}
		if !b.useRedis() {
			break
		}
		ok, wait, err := b.next(ctx, endpoint, &needy)
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			b.redisFailed(err)
			break
		}
		if ok {
			if l := b.rejoin(); l != nil {
				if err := l.Wait(ctx); err != nil {
					return err
				}
			}
			b.showPaused(endpoint, false)
			b.observe(metrics.LimiterFleet, start)
			return nil
		}
		if wait > 0 {
			// The callers waiting here are served one emission interval
			// apart: behind the others, this one's turn is further off
			// than the budget's next send time.
			if d := max(wait, b.queueWait()); overHold(d) {
				// Its turn comes after the send times of the callers that
				// hold on (about a hold's worth), not after all of them.
				return b.deferCall(ctx, endpoint, "the call budget", min(d, wait+hold), start)
			}
		}
		if wait > 0 {
			// A little jitter, so that processes that got the same
			// answer do not all come back in the same millisecond.
			if err := sleep(ctx, wait+rand.N(wait/10+time.Millisecond)); err != nil {
				return err
			}
		}
	}
	if err := b.fallback().Wait(ctx); err != nil {
		return err
	}
	b.observe(metrics.LimiterLocal, start)
	return nil
}

// queueWait is how long the callers of this process waiting for a send
// time take to be served at the budget's rate: a caller that cannot hold
// that long goes, so that a spent budget keeps about rate × hold callers
// waiting and gives the others' slots back.
func (b *Fleet) queueWait() time.Duration {
	if b.unlimited() {
		return 0
	}
	b.mu.Lock()
	n := b.needy
	b.mu.Unlock()
	return time.Duration(float64(n) / b.rate * float64(time.Second))
}

// deferCall refuses a call its caller will not wait wait for, with a
// turn: the callers deferred come back one emission interval apart from
// the earliest the budget could serve them, so a backlog of any size
// returns at the budget's pace instead of all at once. Without Redis the
// turn is the wait, with jitter.
func (b *Fleet) deferCall(ctx context.Context, endpoint, why string, wait time.Duration, start time.Time) error {
	b.observe(metrics.LimiterFleet, start)
	in := wait + rand.N(wait/2+time.Millisecond)
	if !b.unlimited() {
		interval := time.Duration(float64(time.Second) / b.rate)
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), askTimeout)
		turn, err := b.turns.Next(actx, interval, wait)
		cancel()
		if err == nil {
			in = turn
		}
	}
	return &swonkie.DeferredError{Endpoint: endpoint, RetryIn: in, Why: why}
}

// next takes a leased send time (waiting for it), or asks Redis for more:
// ok means the call may go now; otherwise wait is how long to wait before
// trying again (0: at once). needy says the caller is counted in b.needy;
// next clears it when the caller takes a send time, and sets it again when
// that time is dropped.
func (b *Fleet) next(ctx context.Context, endpoint string, needy *bool) (ok bool, wait time.Duration, err error) {
	b.mu.Lock()
	now := b.now()
	if b.unlimited() && now.Sub(b.pausesRead) < pauseRefresh {
		b.mu.Unlock()
		return true, 0, nil
	}
	for len(b.slots) > 0 && now.Sub(b.slots[0]) > leaseSlack {
		b.slots = b.slots[1:] // too late to use: dropped
	}
	if len(b.slots) > 0 {
		at := b.slots[0]
		b.slots = b.slots[1:]
		b.needy--
		*needy = false
		b.demand = b.demandNow(now) + 1/demandWindow.Seconds()
		b.mu.Unlock()
		err := sleep(ctx, at.Sub(now))
		if err == nil && b.now().Sub(at) <= leaseSlack {
			return true, 0, nil
		}
		b.mu.Lock()
		b.needy++
		*needy = true
		b.mu.Unlock()
		return false, 0, err
	}
	if d := b.notBefore.Sub(now); d > 0 {
		b.mu.Unlock()
		return false, d, nil
	}
	if ch := b.asking; ch != nil {
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
		}
		return false, 0, nil
	}
	want := 0
	if !b.unlimited() {
		want = max(1, b.needy)
		if b.spent {
			// Callers outrun the budget: they will keep coming back for
			// the send times the horizon holds, so one round trip leases
			// them all rather than one per caller as each comes back.
			want = max(want, int(math.Ceil(b.demandNow(now)*leaseHorizon.Seconds())))
		}
		want = min(maxLease, want)
	}
	ch := make(chan struct{})
	b.asking = ch
	b.mu.Unlock()

	actx, cancel := context.WithTimeout(ctx, askTimeout)
	lease, err := b.store.Lease(actx, rdb.LeaseAsk{Endpoint: endpoint, Rate: b.rate, Burst: b.burst,
		N: want, Horizon: leaseHorizon, Slack: leaseSlack})
	cancel()
	answered := b.now()

	b.mu.Lock()
	b.asking = nil
	close(ch)
	if err == nil {
		for _, off := range lease.Offsets {
			b.slots = append(b.slots, answered.Add(off))
		}
		clear(b.fleet)
		for ep, left := range lease.Pauses {
			b.fleet[ep] = answered.Add(left)
		}
		b.pausesRead = answered
		short := len(lease.Offsets) < want && !lease.Paused
		if short {
			b.notBefore = answered.Add(lease.Wait)
		}
		b.spent = short || (len(lease.Offsets) > 0 && lease.Offsets[len(lease.Offsets)-1] > 0)
	}
	b.mu.Unlock()
	if err != nil {
		return false, 0, err
	}
	b.redisAnswered()
	return false, 0, nil
}

// demandWindow is the time this process's call rate is averaged over.
const demandWindow = time.Second

// demandNow is this process's call rate at now (b.mu held).
func (b *Fleet) demandNow(now time.Time) float64 {
	if dt := now.Sub(b.demandAt); dt > 0 {
		b.demand *= math.Exp(-dt.Seconds() / demandWindow.Seconds())
		b.demandAt = now
	}
	return b.demand
}

// Throttled holds endpoint ("" for every one) for retryAfter, here at
// once and for the fleet through Redis.
func (b *Fleet) Throttled(endpoint string, retryAfter time.Duration) {
	if retryAfter <= 0 {
		return
	}
	field := endpoint
	if field == "" {
		field = rdb.AllEndpoints
	}
	b.mu.Lock()
	if until := b.now().Add(retryAfter); until.After(b.own[field]) {
		b.own[field] = until
	}
	b.mu.Unlock()
	b.showPaused(endpoint, true)
	if !b.useRedis() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), askTimeout)
	defer cancel()
	if _, err := b.store.Pause(ctx, field, retryAfter, time.Time{}); err != nil {
		b.redisFailed(err)
		return
	}
	b.redisAnswered()
}

// pauseLeft is how long the pauses known here keep endpoint waiting.
func (b *Fleet) pauseLeft(endpoint string) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	var until time.Time
	for _, held := range []map[string]time.Time{b.own, b.fleet} {
		for _, k := range []string{endpoint, rdb.AllEndpoints} {
			if u := held[k]; u.After(until) {
				until = u
			}
		}
		for k, u := range held {
			if !u.After(now) {
				delete(held, k)
			}
		}
	}
	return until.Sub(now)
}

func (b *Fleet) useRedis() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.now().Before(b.redisDownUntil)
}

// fallback is the limiter of this process while Redis cannot be asked.
func (b *Fleet) fallback() *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.local == nil {
		b.local = b.newLocal()
	}
	return b.local
}

// newLocal paces this process at its share of the fleet's budget: the
// rate and the burst divided by the processes it last saw sharing it, so
// that the fleet as a whole keeps to the budget while none can ask Redis.
// At least one call a second (unless the budget itself is slower), and a
// burst of at least one. It starts empty: the fleet may have spent its
// burst just before.
func (b *Fleet) newLocal() *rate.Limiter {
	n := b.peers.count()
	r := b.rate / float64(n)
	if r < 1 {
		r = min(1, b.rate)
	}
	burst := max(1, b.burst/n)
	l := rate.NewLimiter(rate.Limit(r), burst)
	l.AllowN(time.Now(), burst)
	return l
}

func (b *Fleet) redisFailed(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.redisDownUntil = b.now().Add(retryRedis)
	if !b.redisDown {
		b.redisDown = true
		b.local = b.newLocal()
		b.log.Warn().Err(err).Float64("rate", b.rate).Int("burst", b.burst).
			Int("processes", b.peers.count()).Float64("local_rate", float64(b.local.Limit())).Int("local_burst", b.local.Burst()).
			Msg("Swonkie fleet budget: Redis cannot be asked; this process paces its calls at its share of the budget until it can")
	}
}

func (b *Fleet) redisAnswered() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.redisDown {
		b.redisDown = false
		b.rejoinUntil = b.now().Add(retryRedis)
		b.log.Info().Msg("Swonkie fleet budget: Redis answers again; calls are paced fleet-wide")
	}
}

// rejoin is the limiter a call paced by Redis must also pass right after
// an outage, or nil. The fleet's budget in Redis knows nothing of the
// calls other processes make alone until they too ask Redis again, which
// is within retryRedis; until then this process keeps to its share as
// well, so the fleet as a whole never sends its own budget plus those
// shares.
func (b *Fleet) rejoin() *rate.Limiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.local != nil && !b.redisDown && !b.now().Before(b.rejoinUntil) {
		b.local = nil
	}
	if b.redisDown {
		return nil
	}
	return b.local
}

func (b *Fleet) showPaused(endpoint string, paused bool) {
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

func (b *Fleet) observe(limiter string, start time.Time) {
	if b.m != nil {
		b.m.BudgetWaited(limiter, b.now().Sub(start))
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

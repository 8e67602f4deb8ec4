// Package authlimit stands between strangers and the tokens of the HTTP
// API and the pipelines page: it counts failed authentications per client
// address in Redis, so a whole fleet of workers counts them together, and
// once a client has failed too often it refuses that client's attempts
// (429 with Retry-After) before their token counts, right or wrong. The
// refusals are counted in mediaflow_auth_refused_total and written to the
// log as a few summary lines a minute, never one line each, so a flood of
// wrong tokens can neither guess a token nor fill the disk.
//
// The count is a GCRA (the fleet budget's script, internal/rdb) on the
// Redis server's clock: PerMinute failures at once, then one more every
// minute/PerMinute. A refused attempt is not counted, so a client that
// keeps trying is let back in at that pace and no faster. Every failure is
// counted in Redis; good credentials are checked against Redis only for a
// client this process saw fail in the last minute (suspects.go), so
// authenticated traffic costs Redis nothing.
//
// The client address is the connection's peer, or, when that peer is one
// of Config.TrustedProxies, the first address in X-Forwarded-For (read from
// the right) that is not a trusted proxy. IPv6 clients are counted per /64.
//
// When Redis cannot be asked (down, or slower than half a second) attempts
// are judged on their token alone: the API cannot queue anything then
// either, and the summary says so.
package authlimit

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/metrics"
)

// DefaultPerMinute is AUTH_FAILURE_LIMIT's default: enough for a person
// mistyping a token, far too few to guess one.
const DefaultPerMinute = 10

// Timing of the questions to Redis, as the fleet budget's.
const (
	// askTimeout bounds one question.
	askTimeout = 500 * time.Millisecond
	// retryRedis is how long attempts are judged on their token alone
	// after Redis failed to answer, so an outage costs one slow question
	// per interval rather than one per attempt.
	retryRedis = 2 * time.Second
)

// Config configures a Guard.
type Config struct {
	// PerMinute is how many failed authentications a client address may
	// make in a minute (and at once) before its attempts are refused; 0
	// refuses none (refusals are still counted and summarized).
	PerMinute int
	// TrustedProxies are the reverse proxies whose X-Forwarded-For names
	// the client (API_TRUSTED_PROXIES); see ParseTrustedProxies.
	TrustedProxies []netip.Prefix
	// SummaryEvery is how often refusals are summarized in the log; 0
	// means DefaultSummaryEvery.
	SummaryEvery time.Duration
	// Logger receives the summaries.
	Logger zerolog.Logger
	// Metrics, when set, counts the refusals.
	Metrics *metrics.Metrics
	// Clock, when set, is the time failures are counted by instead of the
	// Redis server's (which keeps a fleet on one clock); tests fix it so a
	// slow machine does not earn a client fresh attempts.
	Clock func() time.Time
}

// Guard judges authentication attempts. It is safe for concurrent use; a
// nil *Guard refuses nothing, counts nothing and logs nothing.
type Guard struct {
	failures  *rdb.AuthFailures // nil when PerMinute is 0
	perMinute int
	trusted   []netip.Prefix
	m         *metrics.Metrics
	sum       *summary
	suspects  *suspects
	now       func() time.Time
	// clock is Config.Clock; nil counts by Redis's clock.
	clock func() time.Time
	// redisDownUntil (Unix ns): Redis is not asked before then.
	redisDownUntil atomic.Int64
}

// New returns a Guard counting on r, which may be nil only when
// cfg.PerMinute is 0.
func New(r redis.UniversalClient, cfg Config) (*Guard, error) {
	switch {
	case cfg.PerMinute < 0:
		return nil, fmt.Errorf("authlimit: %d failures a minute: want 0 (no limit) or more", cfg.PerMinute)
	case cfg.PerMinute > 0 && r == nil:
		return nil, errors.New("authlimit: a limit needs Redis to count failures in")
	}
	g := &Guard{perMinute: cfg.PerMinute, trusted: cfg.TrustedProxies, m: cfg.Metrics,
		sum: newSummary(cfg.Logger, cfg.SummaryEvery), suspects: newSuspects(), now: time.Now, clock: cfg.Clock}
	if cfg.Clock != nil {
		g.now = cfg.Clock
	}
	if cfg.PerMinute > 0 {
		g.failures = rdb.NewAuthFailures(r)
	}
	return g, nil
}

// Failed counts a failed authentication of r's client on surface
// (metrics.AuthSurfaceAPI or AuthSurfaceUI). throttled means the client
// was over its limit already: answer 429 with retryAfter (whole seconds,
// at least 1) rather than 401.
func (g *Guard) Failed(r *http.Request, surface string) (retryAfter int, throttled bool) {
	if g == nil {
		return 0, false
	}
	client := clientKey(clientAddr(r, g.trusted))
	if g.failures != nil {
		g.suspects.mark(client, g.now())
		over, wait, err := g.ask(r, func(ctx context.Context) (bool, time.Duration, error) {
			return g.failures.Fail(ctx, client, g.perMinute, g.countingTime())
		})
		if err == nil && over {
			g.refused(surface, client, true)
			return seconds(wait), true
		}
	}
	g.refused(surface, client, false)
	return 0, false
}

// Throttled says whether r's client, whose credentials are good, is
// refused all the same for its earlier failures, and for how long (whole
// seconds, at least 1): a client guessing tokens must not learn from the
// answer that a guess was right. Redis is asked only about clients this
// process saw fail in the last minute (see suspects).
func (g *Guard) Throttled(r *http.Request, surface string) (retryAfter int, throttled bool) {
	if g == nil || g.failures == nil {
		return 0, false
	}
	client := clientKey(clientAddr(r, g.trusted))
	if !g.suspects.has(client, g.now()) {
		return 0, false
	}
	over, wait, err := g.ask(r, func(ctx context.Context) (bool, time.Duration, error) {
		return g.failures.Over(ctx, client, g.perMinute, g.countingTime())
	})
	if err != nil || !over {
		return 0, false
	}
	g.refused(surface, client, true)
	return seconds(wait), true
}

// Close writes the pending summary.
func (g *Guard) Close() {
	if g != nil {
		g.sum.close()
	}
}

// ask runs one question to Redis, detached from the client's connection:
// a client that hangs up at once must still have its failure counted.
func (g *Guard) ask(r *http.Request, q func(context.Context) (bool, time.Duration, error)) (bool, time.Duration, error) {
	if time.Now().UnixNano() < g.redisDownUntil.Load() {
		return false, 0, errRedisDown
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), askTimeout)
	defer cancel()
	over, wait, err := q(ctx)
	if err != nil {
		g.redisDownUntil.Store(time.Now().Add(retryRedis).UnixNano())
		g.sum.redisFailed(err)
	}
	return over, wait, err
}

// errRedisDown is why Redis was not asked: it failed a moment ago.
var errRedisDown = errors.New("authlimit: Redis failed a moment ago; not asked")

func (g *Guard) refused(surface, client string, throttled bool) {
	if g.m != nil {
		reason := metrics.AuthInvalid
		if throttled {
			reason = metrics.AuthThrottled
		}
		g.m.AuthRefused(surface, reason)
	}
	g.sum.refused(surface, client, throttled)
}

func seconds(d time.Duration) int { return max(1, int(math.Ceil(d.Seconds()))) }

// countingTime is the time failures are counted at: zero (the Redis
// server's clock) unless Config.Clock is set.
func (g *Guard) countingTime() time.Time {
	if g.clock == nil {
		return time.Time{}
	}
	return g.clock()
}

package rdb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// The fleet-wide Swonkie call budget. Its keys live here rather than in
// keys.go so the budget stays one reviewable file; doc.go's layout lists
// them:
//
//	mediaflow:budget:{<ws>}        string  GCRA theoretical arrival time (ms, Redis clock)
//	mediaflow:budget:{<ws>}:pause  hash    endpoint ("*" = every endpoint) → paused until (ms)
//	mediaflow:budget:{<ws>}:peers  zset    processes sharing the budget → last seen (ms, Redis clock)
//
// <ws> is BudgetWorkspace of the API id: a hash, never the id or the key.
// Every key carries it as its hash tag, so the lease script, which reads
// two, is single-slot on a Redis Cluster.

func budgetKey(ws string) string      { return prefix + "budget:{" + ws + "}" }
func budgetPauseKey(ws string) string { return prefix + "budget:{" + ws + "}:pause" }
func budgetPeersKey(ws string) string { return prefix + "budget:{" + ws + "}:peers" }

// AllEndpoints is the pause field that holds every endpoint.
const AllEndpoints = "*"

// BudgetWorkspace names a Swonkie workspace in keys: the first 16 bytes of
// the SHA-256 of its API id, in hex. Credentials are per workspace, so the
// API id is the workspace; the hash keeps it out of Redis.
func BudgetWorkspace(apiID string) string {
	sum := sha256.Sum256([]byte("mediaflow swonkie workspace\x00" + apiID))
	return hex.EncodeToString(sum[:16])
}

// leaseScript is GCRA (the generic cell rate algorithm) on one key, after
// a pause check on the key beside it when there is one, handing out up to
// n send times at once: the ones conforming within the horizon, as a
// worker asking n times in a row would get them. Each is an offset from
// now; the caller sends at that offset, or not at all. The fleet budget
// and the failed-authentication throttle (auth.go) both run it.
//
//	KEYS[1]=cells  KEYS[2]=pause (optional)
//	ARGV[1]=emission interval (ms; 0: no pacing, pauses only)
//	ARGV[2]=tolerance (ms: interval·(burst-1), less the slack a caller may
//	        send late by)
//	ARGV[3]=endpoint  ARGV[4]=now (ms), or "" for the Redis server's clock
//	ARGV[5]=n, the most send times wanted (0: only read the pauses)
//	ARGV[6]=horizon (ms): no send time further ahead than this
//	ARGV[7]="peek" to only ask what would be granted, taking none
//
// Returns {granted, wait ms, paused, pauses, offset…, endpoint, ms left…}:
// the granted offsets, then every pause in force with how long it has left
// (so that callers learn of other endpoints' pauses too). When nothing is
// granted, wait is how long until asking again can succeed, and paused says
// a pause (rather than the rate) is why. The server's clock is the default
// so that workers whose clocks disagree still share one schedule.
var leaseScript = redis.NewScript(`
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local pauses = {}
local pausedUntil = 0
if #KEYS > 1 then
  local p = redis.call('HGETALL', KEYS[2])
  for i = 1, #p, 2 do
    local untilMs = tonumber(p[i + 1]) or 0
    if untilMs > now then
      pauses[#pauses + 1] = p[i]
      pauses[#pauses + 1] = math.ceil(untilMs - now)
      if p[i] == '*' or p[i] == ARGV[3] then pausedUntil = math.max(pausedUntil, untilMs) end
    end
  end
end
local function reply(wait, paused, offsets)
  local out = {#offsets, wait, paused, #pauses / 2}
  for _, o in ipairs(offsets) do out[#out + 1] = o end
  for _, v in ipairs(pauses) do out[#out + 1] = v end
  return out
end
local n = tonumber(ARGV[5])
if n == 0 then return reply(0, 0, {}) end
if pausedUntil > now then return reply(math.ceil(pausedUntil - now), 1, {}) end
local interval = tonumber(ARGV[1])
if interval == 0 then
  local offsets = {}
  for i = 1, n do offsets[i] = 0 end
  return reply(0, 0, offsets)
end
local tau = tonumber(ARGV[2])
local horizon = tonumber(ARGV[6])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local offsets = {}
local at = math.max(now, tat - tau)
while #offsets < n and at - now <= horizon do
  offsets[#offsets + 1] = math.ceil(at - now)
  tat = math.max(tat, at) + interval
  at = math.max(now, tat - tau)
end
if #offsets > 0 and ARGV[7] ~= 'peek' then
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
end
return reply(math.max(1, math.ceil(at - now)), 0, offsets)
`)

// pauseScript holds an endpoint (or "*") until now + the given time,
// unless it is already held longer.
//
//	KEYS[1]=pause  ARGV[1]=endpoint  ARGV[2]=duration (ms)  ARGV[3]=now (ms) or ""
//
// Returns the time (ms) the endpoint is held until.
var pauseScript = redis.NewScript(`
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
local d = tonumber(ARGV[2])
local untilMs = math.ceil(now + d)
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or 0)
if cur >= untilMs then return cur end
redis.call('HSET', KEYS[1], ARGV[1], untilMs)
if redis.call('PTTL', KEYS[1]) < d + 1000 then
  redis.call('PEXPIRE', KEYS[1], math.ceil(d) + 1000)
end
return untilMs
`)

// Budget is one workspace's call budget in Redis. It holds no state of its
// own and is safe for concurrent use.
type Budget struct {
	c                 redis.UniversalClient
	key, pause, peers string
}

// NewBudget returns the budget of workspace (see BudgetWorkspace) on c.
func NewBudget(c redis.UniversalClient, workspace string) *Budget {
	return &Budget{c: c, key: budgetKey(workspace), pause: budgetPauseKey(workspace), peers: budgetPeersKey(workspace)}
}

// LeaseAsk is what a caller of Lease asks for.
type LeaseAsk struct {
	Endpoint string
	// Rate is calls per second (+Inf: no pacing, only pauses), Burst how
	// many may go at once.
	Rate  float64
	Burst int
	// N is the most send times wanted; 0 only reads the pauses.
	N int
	// Horizon is how far ahead a send time may be; 0 grants only those
	// that may go now.
	Horizon time.Duration
	// Slack is how late the caller may send after a granted time: the
	// tolerance shrinks by it (down to none), so that sends that late still
	// keep any second within rate + burst.
	Slack time.Duration
	// Now is the time to go by; zero uses the Redis server's clock.
	Now time.Time
}

// Lease is Redis's answer.
type Lease struct {
	// Offsets are the granted send times, from the moment Redis answered,
	// earliest first.
	Offsets []time.Duration
	// Wait is how long until asking again can succeed, when nothing was
	// granted or fewer than asked.
	Wait time.Duration
	// Paused: a pause of the endpoint (or of all of them) is why nothing
	// was granted.
	Paused bool
	// Pauses are every pause in force, by endpoint (AllEndpoints: every
	// endpoint), with how long each has left.
	Pauses map[string]time.Duration
}

// Lease asks for up to a.N send times of the workspace's budget at once,
// and learns the pauses in force.
func (b *Budget) Lease(ctx context.Context, a LeaseAsk) (Lease, error) {
	if a.Rate <= 0 || math.IsNaN(a.Rate) {
		return Lease{}, fmt.Errorf("budget: rate %v: want more than 0 calls per second", a.Rate)
	}
	l, err := lease(ctx, b.c, []string{b.key, b.pause}, a, "")
	if err != nil {
		return Lease{}, fmt.Errorf("budget: lease for %s: %w", a.Endpoint, err)
	}
	return l, nil
}

// lease runs leaseScript on keys (the cells, and the pauses when there is
// a second key); mode "peek" takes nothing.
func lease(ctx context.Context, c redis.UniversalClient, keys []string, a LeaseAsk, mode string) (Lease, error) {
	interval, tau := 0.0, 0.0
	if !math.IsInf(a.Rate, 1) {
		interval = 1000 / a.Rate
		tau = max(0, interval*float64(max(a.Burst, 1)-1)-float64(a.Slack.Microseconds())/1000)
	}
	res, err := leaseScript.Run(ctx, c, keys,
		strconv.FormatFloat(interval, 'f', 3, 64), strconv.FormatFloat(tau, 'f', 3, 64),
		a.Endpoint, msArg(a.Now), max(a.N, 0), a.Horizon.Milliseconds(), mode).Slice()
	if err != nil {
		return Lease{}, err
	}
	return parseLease(res)
}

func parseLease(res []any) (Lease, error) {
	ints := func(vs []any) ([]int64, bool) {
		out := make([]int64, len(vs))
		for i, v := range vs {
			n, ok := v.(int64)
			if !ok {
				return nil, false
			}
			out[i] = n
		}
		return out, true
	}
	head, ok := ints(res[:min(4, len(res))])
	if !ok || len(head) != 4 || int64(len(res)) != 4+head[0]+2*head[3] {
		return Lease{}, fmt.Errorf("script answered %v", res)
	}
	offs, ok := ints(res[4 : 4+head[0]])
	if !ok {
		return Lease{}, fmt.Errorf("script answered %v", res)
	}
	l := Lease{Wait: time.Duration(head[1]) * time.Millisecond, Paused: head[2] == 1, Pauses: map[string]time.Duration{}}
	for _, o := range offs {
		l.Offsets = append(l.Offsets, time.Duration(o)*time.Millisecond)
	}
	rest := res[4+head[0]:]
	for i := 0; i+1 < len(rest); i += 2 {
		ep, ok1 := rest[i].(string)
		left, ok2 := rest[i+1].(int64)
		if !ok1 || !ok2 {
			return Lease{}, fmt.Errorf("script answered %v", res)
		}
		l.Pauses[ep] = time.Duration(left) * time.Millisecond
	}
	return l, nil
}

// Pause holds endpoint (AllEndpoints for every endpoint) for d from now,
// for every process sharing the budget, and returns when the hold ends. A
// longer hold already in place stays. A zero now uses the Redis clock.
func (b *Budget) Pause(ctx context.Context, endpoint string, d time.Duration, now time.Time) (time.Time, error) {
	until, err := pauseScript.Run(ctx, b.c, []string{b.pause}, endpoint, d.Milliseconds(), msArg(now)).Int64()
	if err != nil {
		return time.Time{}, fmt.Errorf("budget: pause %s: %w", endpoint, err)
	}
	return time.UnixMilli(until), nil
}

func msArg(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatFloat(float64(t.UnixMicro())/1000, 'f', 3, 64)
}

// presentScript notes a process as sharing the budget now, forgets those
// not seen for a while, and counts the rest.
//
//	KEYS[1]=peers  ARGV[1]=process id  ARGV[2]=forget after (ms)
var presentScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - ttl)
redis.call('PEXPIRE', KEYS[1], ttl)
return redis.call('ZCARD', KEYS[1])
`)

// Present says process id shares the budget, and returns how many
// processes did within forgetAfter (this one included).
func (b *Budget) Present(ctx context.Context, id string, forgetAfter time.Duration) (int, error) {
	n, err := presentScript.Run(ctx, b.c, []string{b.peers}, id, forgetAfter.Milliseconds()).Int()
	if err != nil {
		return 0, fmt.Errorf("budget: note process %s: %w", id, err)
	}
	return n, nil
}

// Leave says process id no longer shares the budget.
func (b *Budget) Leave(ctx context.Context, id string) error {
	if err := b.c.ZRem(ctx, b.peers, id).Err(); err != nil {
		return fmt.Errorf("budget: forget process %s: %w", id, err)
	}
	return nil
}

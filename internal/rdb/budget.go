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
//
// <ws> is BudgetWorkspace of the API id: a hash, never the id or the key.
// Both keys carry it as their hash tag, so the take script, which reads
// both, is single-slot on a Redis Cluster.

func budgetKey(ws string) string      { return prefix + "budget:{" + ws + "}" }
func budgetPauseKey(ws string) string { return prefix + "budget:{" + ws + "}:pause" }

// AllEndpoints is the pause field that holds every endpoint.
const AllEndpoints = "*"

// BudgetWorkspace names a Swonkie workspace in keys: the first 16 bytes of
// the SHA-256 of its API id, in hex. Credentials are per workspace, so the
// API id is the workspace; the hash keeps it out of Redis.
func BudgetWorkspace(apiID string) string {
	sum := sha256.Sum256([]byte("mediaflow swonkie workspace\x00" + apiID))
	return hex.EncodeToString(sum[:16])
}

// takeScript is GCRA (the generic cell rate algorithm) on one key, after a
// pause check on the key beside it when there is one. The fleet budget and
// the failed-authentication throttle (authfail.go) both run it.
//
//	KEYS[1]=cells  KEYS[2]=pause (optional)
//	ARGV[1]=emission interval (ms)  ARGV[2]=burst  ARGV[3]=endpoint
//	ARGV[4]=now (ms), or "" for the Redis server's clock
//	ARGV[5]="peek" to only ask whether a cell is free, taking none
//
// Returns {1, 0, 0} when the call may go, {0, wait ms, 0} when the budget
// is spent, {0, wait ms, 1} while the endpoint or the workspace is paused.
// The server's clock is the default so that workers whose clocks disagree
// still share one schedule.
var takeScript = redis.NewScript(`
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
end
if #KEYS > 1 then
  local p = redis.call('HMGET', KEYS[2], '*', ARGV[3])
  local pausedUntil = math.max(tonumber(p[1]) or 0, tonumber(p[2]) or 0)
  if pausedUntil > now then
    return {0, math.ceil(pausedUntil - now), 1}
  end
end
local interval = tonumber(ARGV[1])
local tau = interval * (tonumber(ARGV[2]) - 1)
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
if tat - now > tau then
  return {0, math.max(1, math.ceil(tat - now - tau)), 0}
end
if ARGV[5] == 'peek' then return {1, 0, 0} end
tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1000)
return {1, 0, 0}
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
	c          redis.UniversalClient
	key, pause string
}

// NewBudget returns the budget of workspace (see BudgetWorkspace) on c.
func NewBudget(c redis.UniversalClient, workspace string) *Budget {
	return &Budget{c: c, key: budgetKey(workspace), pause: budgetPauseKey(workspace)}
}

// Take asks for one call to endpoint at rate calls per second with burst
// calls at once. allowed means the call may go now; otherwise wait is how
// long until asking again can succeed, and paused says a pause (rather than
// the rate) is why. A zero now uses the Redis server's clock.
func (b *Budget) Take(ctx context.Context, endpoint string, rate float64, burst int, now time.Time) (allowed bool, wait time.Duration, paused bool, err error) {
	if rate <= 0 || math.IsNaN(rate) {
		return false, 0, false, fmt.Errorf("budget: rate %v: want more than 0 calls per second", rate)
	}
	interval := 0.0
	if !math.IsInf(rate, 1) {
		interval = 1000 / rate
	}
	res, err := takeScript.Run(ctx, b.c, []string{b.key, b.pause},
		strconv.FormatFloat(interval, 'f', 3, 64), max(burst, 1), endpoint, msArg(now)).Int64Slice()
	if err != nil {
		return false, 0, false, fmt.Errorf("budget: take for %s: %w", endpoint, err)
	}
	if len(res) != 3 {
		return false, 0, false, fmt.Errorf("budget: take for %s: script answered %v", endpoint, res)
	}
	return res[0] == 1, time.Duration(res[1]) * time.Millisecond, res[2] == 1, nil
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

package rdb

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A workspace's active pipelines: a fleet-wide semaphore that lets at most
// maxActive of its pipelines hold worker slots at once.
//
//	mediaflow:active:{<w>}  zset  "<pipeline id> <run id>" → held until (ms, Redis clock)
//
// <w> is the workspace's configured name. A run that holds it is a member
// until it releases it or its lease ends (a worker killed mid-run frees
// its place when the lease does). Several runs of one pipeline (its media
// uploaded side by side) count as one pipeline.

func activeKey(w string) string      { return prefix + "active:{" + w + "}" }
func activeTurnsKey(w string) string { return prefix + "active:{" + w + "}:turns" }

// admitScript takes a place for a run of a pipeline, when its pipeline
// already holds one or fewer than max pipelines do.
//
//	KEYS[1]=active  ARGV[1]=pipeline id  ARGV[2]=run id  ARGV[3]=max
//	ARGV[4]=lease (ms)
//
// Returns 1 when admitted, 0 when max pipelines are active.
var admitScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local pipelines, mine = {}, false
local n = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local p = string.match(m, '^(%S+) ')
  if p == ARGV[1] then mine = true end
  if p and not pipelines[p] then
    pipelines[p] = true
    n = n + 1
  end
end
if not mine and n >= tonumber(ARGV[3]) then
  return 0
end
local lease = tonumber(ARGV[4])
redis.call('ZADD', KEYS[1], now + lease, ARGV[1] .. ' ' .. ARGV[2])
if redis.call('PTTL', KEYS[1]) < lease + 1000 then
  redis.call('PEXPIRE', KEYS[1], lease + 1000)
end
return 1
`)

// Active is one workspace's active pipelines.
type Active struct {
	c          redis.UniversalClient
	key, turns string
}

// NewActive is the semaphore of the workspace named name.
func NewActive(c redis.UniversalClient, name string) *Active {
	return &Active{c: c, key: activeKey(name), turns: activeTurnsKey(name)}
}

// Admit takes a place for run of pipeline for lease, unless max other
// pipelines hold one; it reports whether it did.
func (a *Active) Admit(ctx context.Context, pipeline, run string, max int, lease time.Duration) (bool, error) {
	ok, err := admitScript.Run(ctx, a.c, []string{a.key}, pipeline, run, max, lease.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("active pipelines %s: admit %s: %w", a.key, pipeline, err)
	}
	return ok == 1, nil
}

// Release gives back the place of run of pipeline.
func (a *Active) Release(ctx context.Context, pipeline, run string) error {
	if err := a.c.ZRem(ctx, a.key, pipeline+" "+run).Err(); err != nil {
		return fmt.Errorf("active pipelines %s: release %s: %w", a.key, pipeline, err)
	}
	return nil
}

// Turns are the turns of the runs waiting for a place.
func (a *Active) Turns() *Turns { return &Turns{c: a.c, key: a.turns} }

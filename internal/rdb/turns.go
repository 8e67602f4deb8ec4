package rdb

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Turns space out the comebacks of tasks that gave their worker slot back
// because their workspace had no budget or no active slot left: each gets
// a turn one interval after the last one handed out, so that a backlog of
// any size comes back at about the pace the workspace can serve it,
// rather than all at once to find the budget spent again.
//
//	mediaflow:budget:{<ws>}:turns  string  the last turn handed out (ms, Redis clock); the budget's tag
//	mediaflow:active:{<w>}:turns   string  the same for maxActive; <w> = the workspace's configured name

func budgetTurnsKey(ws string) string { return prefix + "budget:{" + ws + "}:turns" }

// turnScript hands out the next turn: the later of the last turn plus the
// interval and now plus the earliest wait, and records it.
//
//	KEYS[1]=turns  ARGV[1]=interval (ms)  ARGV[2]=earliest wait (ms)
//
// Returns the turn's offset from now (ms).
var turnScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local turn = math.max(now + tonumber(ARGV[2]), tonumber(redis.call('GET', KEYS[1]) or 0) + interval)
redis.call('SET', KEYS[1], turn, 'PX', math.ceil(turn - now) + 1000)
return turn - now
`)

// Turns hands out the turns of one workspace's waiting tasks.
type Turns struct {
	c   redis.UniversalClient
	key string
}

// NewBudgetTurns are the turns of the tasks waiting for workspace's call
// budget (see BudgetWorkspace).
func NewBudgetTurns(c redis.UniversalClient, workspace string) *Turns {
	return &Turns{c: c, key: budgetTurnsKey(workspace)}
}

// Next is how long from now the caller's turn is: at least earliest, and
// interval after the turn handed out before it.
func (t *Turns) Next(ctx context.Context, interval, earliest time.Duration) (time.Duration, error) {
	ms, err := turnScript.Run(ctx, t.c, []string{t.key}, interval.Milliseconds(), max(0, earliest.Milliseconds())).Int64()
	if err != nil {
		return 0, fmt.Errorf("turns %s: %w", t.key, err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

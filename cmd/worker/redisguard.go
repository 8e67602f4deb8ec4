package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/tasks"
)

// redisGuard checks that the Redis mediaflow stands on keeps what it is
// given. A Redis whose maxmemory-policy evicts drops pipeline records and
// queued tasks when it fills up, silently; one that refuses writes (full
// under noeviction) cannot move a pipeline. The first stops the start
// (unless REDIS_ALLOW_EVICTION says to run anyway), both make /readyz
// fail, and the metrics show the policy and the memory headroom.
//
// The policy comes from INFO memory on every server that holds data (the
// one server, the master behind Sentinel, each master of a cluster), so a
// failover to a master configured otherwise is seen by the next probe.
// Managed services often refuse CONFIG GET, and some refuse INFO too (or
// an ACL does): Redis would then not say, and the guard cannot tell. It
// does not stop the worker for that, since it cannot know that anything is
// wrong: it says so once at start, and the policy metric reads "unknown".
type redisGuard struct {
	rc            redis.UniversalClient
	allowEviction bool
}

// writeProbeQueues are the asynq queues a worker or an API front writes
// to: the probe writes into each one's hash slot.
var writeProbeQueues = []string{tasks.QueuePipeline, tasks.QueueCleanup, tasks.QueueNotify}

// evictionError names the servers whose policy may evict.
type evictionError struct{ nodes []rdb.NodeMemory }

func (e *evictionError) Error() string {
	var parts []string
	for _, n := range e.nodes {
		parts = append(parts, fmt.Sprintf("Redis at %s has maxmemory-policy %s", n.Addr, n.Policy))
	}
	return strings.Join(parts, "; ") + ": when full it drops keys (pipeline records, queued tasks) instead of refusing writes;" +
		" set maxmemory-policy to noeviction, or set REDIS_ALLOW_EVICTION=true to run anyway"
}

// memory reads every data server's memory settings; known is false when
// Redis refused to say (a reply, not a failure to reach it).
func (g redisGuard) memory(ctx context.Context) (nodes []rdb.NodeMemory, known bool, err error) {
	nodes, err = rdb.Memory(ctx, g.rc)
	var reply redis.Error
	if errors.As(err, &reply) {
		return nil, false, nil
	}
	return nodes, err == nil, err
}

// evicting lists the servers whose policy is not noeviction.
func evicting(nodes []rdb.NodeMemory) []rdb.NodeMemory {
	var bad []rdb.NodeMemory
	for _, n := range nodes {
		if n.Policy != rdb.NoEviction {
			bad = append(bad, n)
		}
	}
	return bad
}

// checkAtStart is the start's check: an evicting policy is an error unless
// allowed, and then a loud warning.
func (g redisGuard) checkAtStart(ctx context.Context, log zerolog.Logger) error {
	nodes, known, err := g.memory(ctx)
	if err != nil {
		return fmt.Errorf("read Redis's memory settings: %v", err)
	}
	if !known {
		log.Warn().Msg("Redis will not say its maxmemory-policy (INFO is refused): make sure it is noeviction, or Redis may drop pipeline records and tasks when it fills up")
		return nil
	}
	bad := evicting(nodes)
	if len(bad) == 0 {
		return nil
	}
	if !g.allowEviction {
		return &evictionError{bad}
	}
	log.Error().Str("maxmemory_policy", bad[0].Policy).Str("redis", bad[0].Addr).
		Msg("REDIS_ALLOW_EVICTION is set: running on a Redis that may EVICT pipeline records and queued tasks when it fills up; they are then lost without a trace")
	return nil
}

// readyChecks are /readyz's checks of the Redis configuration.
func (g redisGuard) readyChecks() []readyCheck {
	return []readyCheck{
		{name: "redis-policy", check: func(ctx context.Context) error {
			nodes, _, err := g.memory(ctx)
			if err != nil {
				return err
			}
			if bad := evicting(nodes); len(bad) > 0 && !g.allowEviction {
				return &evictionError{bad}
			}
			return nil
		}},
		{name: "redis-writes", check: func(ctx context.Context) error {
			return rdb.ProbeWrites(ctx, g.rc, writeProbeQueues...)
		}},
	}
}

// stats is the source of the Redis gauges.
func (g redisGuard) stats(ctx context.Context) (metrics.RedisStats, error) {
	nodes, known, err := g.memory(ctx)
	if err != nil {
		return metrics.RedisStats{}, err
	}
	if !known {
		return metrics.RedisStats{Policies: map[string]int{metrics.PolicyUnknown: 1}}, nil
	}
	s := metrics.RedisStats{Policies: map[string]int{}, MemoryKnown: true}
	for i, n := range nodes {
		s.Policies[n.Policy]++
		if i == 0 || n.Headroom() < (rdb.NodeMemory{Used: s.Used, Max: s.Max}).Headroom() {
			s.Used, s.Max = n.Used, n.Max
		}
	}
	return s, nil
}

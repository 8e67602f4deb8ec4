package rdb

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// What Redis must be for mediaflow: a store that refuses writes when full
// rather than one that makes room by dropping keys. An evicted record is a
// pipeline lost; an evicted asynq task, a step never run.

// NoEviction is the maxmemory-policy mediaflow needs.
const NoEviction = "noeviction"

// NodeMemory is what one Redis server says of its memory (INFO memory).
type NodeMemory struct {
	// Addr is the server's address as the client knows it.
	Addr string
	// Used is used_memory; Max is maxmemory, 0 when Redis has no limit.
	Used, Max int64
	// Policy is maxmemory_policy.
	Policy string
}

// Headroom is the share of Max still free (1 with no limit; below 0 when
// Redis holds more than Max, which it then refuses to add to).
func (n NodeMemory) Headroom() float64 {
	if n.Max <= 0 {
		return 1
	}
	return 1 - float64(n.Used)/float64(n.Max)
}

// Memory reads INFO memory from the server that holds the data: the one
// server, the master behind Sentinel, or every master of a cluster (each
// evicts, and fills, on its own). INFO rather than CONFIG GET: managed
// Redis services often refuse CONFIG and answer INFO.
func Memory(ctx context.Context, c redis.UniversalClient) ([]NodeMemory, error) {
	read := func(ctx context.Context, node *redis.Client) (NodeMemory, error) {
		addr := node.Options().Addr
		if addr == sentinelClientAddr {
			addr = "the master behind Sentinel"
		}
		info, err := node.Info(ctx, "memory").Result()
		if err != nil {
			return NodeMemory{}, fmt.Errorf("INFO memory on %s: %w", addr, err)
		}
		return parseMemory(addr, info)
	}
	switch cc := c.(type) {
	case *redis.ClusterClient:
		var (
			mu  sync.Mutex
			out []NodeMemory
		)
		err := cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			m, err := read(ctx, node)
			if err != nil {
				return err
			}
			mu.Lock()
			out = append(out, m)
			mu.Unlock()
			return nil
		})
		return out, err
	case *redis.Client:
		m, err := read(ctx, cc)
		if err != nil {
			return nil, err
		}
		return []NodeMemory{m}, nil
	default:
		info, err := c.Info(ctx, "memory").Result()
		if err != nil {
			return nil, fmt.Errorf("INFO memory: %w", err)
		}
		m, err := parseMemory("", info)
		if err != nil {
			return nil, err
		}
		return []NodeMemory{m}, nil
	}
}

// sentinelClientAddr is the address go-redis gives a Sentinel (failover)
// client, which follows whichever server is master.
const sentinelClientAddr = "FailoverClient"

func parseMemory(addr, info string) (NodeMemory, error) {
	m := NodeMemory{Addr: addr}
	var seen int
	for _, line := range strings.Split(info, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		var err error
		switch k {
		case "used_memory":
			m.Used, err = strconv.ParseInt(v, 10, 64)
			seen++
		case "maxmemory":
			m.Max, err = strconv.ParseInt(v, 10, 64)
			seen++
		case "maxmemory_policy":
			m.Policy = v
			seen++
		}
		if err != nil {
			return m, fmt.Errorf("INFO memory on %s: %s %q: %w", addr, k, v, err)
		}
	}
	if seen != 3 {
		return m, fmt.Errorf("INFO memory on %s does not say used_memory, maxmemory and maxmemory_policy", addr)
	}
	return m, nil
}

// probeTTL: the probe keys vanish on their own soon after the last probe.
const probeTTL = 30 * time.Second

// ProbeWrites writes one small key, expiring, into every hash slot
// mediaflow writes to: each shard of the records, and each of the asynq
// queues given (asynq's keys of queue q are tagged {q}). Redis refusing
// writes (out of memory under noeviction, a read-only replica, an ACL) is
// then seen, where a read (PING, a script that only reads) would pass; on a
// cluster, on whichever master refuses.
func ProbeWrites(ctx context.Context, c redis.UniversalClient, queues ...string) error {
	keys := make([]string, 0, Shards+len(queues))
	for shard := range Shards {
		keys = append(keys, readyKey(shard))
	}
	for _, q := range queues {
		keys = append(keys, queueReadyKey(q))
	}
	cmds, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, k := range keys {
			p.Set(ctx, k, "1", probeTTL)
		}
		return nil
	})
	if err == nil {
		return nil
	}
	for i, cmd := range cmds {
		if cerr := cmd.Err(); cerr != nil {
			return fmt.Errorf("write probe %s: Redis refuses writes: %w", keys[i], cerr)
		}
	}
	return fmt.Errorf("write probe: Redis refuses writes: %w", err)
}

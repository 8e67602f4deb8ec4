package main

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/tasks"
)

// Redis memory a publication costs, pending and finished: what Redis
// holds after minus before, over the publications. It counts everything a
// publication leaves in Redis: its record and history, its index entries
// and, while pending, the asynq task of its first step.

// usedMemory is what Redis holds apart from its connections: MEMORY
// STATS total.allocated (INFO's used_memory) less the clients' query and
// output buffers (clients.normal, clients.slaves). Those buffers grow and
// shrink with the load of the moment, not with what is stored: across a
// 2,000-publication run they grew by 134 KB in one run (67 bytes a
// publication, counted as finished records before) and shrank by 17 KB
// in the next.
func usedMemory(ctx context.Context, rc redis.UniversalClient) (int64, error) {
	raw, err := rc.Do(ctx, "MEMORY", "STATS").Result()
	if err != nil {
		return 0, fmt.Errorf("MEMORY STATS: %w", err)
	}
	// A map over RESP3, a flat list of pairs over RESP2.
	stat := map[string]int64{}
	add := func(k, v any) {
		if k, ok := k.(string); ok {
			if v, ok := v.(int64); ok {
				stat[k] = v
			}
		}
	}
	switch raw := raw.(type) {
	case map[any]any:
		for k, v := range raw {
			add(k, v)
		}
	case []any:
		for i := 0; i+1 < len(raw); i += 2 {
			add(raw[i], raw[i+1])
		}
	}
	total, ok := stat["total.allocated"]
	if !ok {
		return 0, fmt.Errorf("MEMORY STATS has no total.allocated")
	}
	return total - stat["clients.normal"] - stat["clients.slaves"], nil
}

// keyBytes is what MEMORY USAGE says of every key naming id (its record
// and history; index entries are inside the shard's sorted sets), by key.
func keyBytes(ctx context.Context, rc redis.UniversalClient, id string) (map[string]int64, error) {
	out := map[string]int64{}
	iter := rc.Scan(ctx, 0, "*"+id+"*", 1000).Iterator()
	for iter.Next(ctx) {
		n, err := rc.MemoryUsage(ctx, iter.Val(), 0).Result()
		if err != nil {
			return nil, err
		}
		out[iter.Val()] = n
	}
	return out, iter.Err()
}

// pendingResult is what n accepted, not yet run, publications cost.
type pendingResult struct {
	n     int
	bytes int64
}

func (r pendingResult) perPipeline() float64 {
	if r.n == 0 {
		return 0
	}
	return float64(r.bytes) / float64(r.n)
}

// measurePending publishes n pipelines with no worker running and reads
// what they added to Redis: records, index entries, first tasks.
func measurePending(ctx context.Context, rc redis.UniversalClient, o options, n int) (pendingResult, error) {
	sources, err := source.New(source.Config{Root: o.mediaRoot})
	if err != nil {
		return pendingResult{}, err
	}
	c := tasks.NewClient(rc, tasks.WithSources(sources), tasks.WithTiming(o.timing))
	defer c.Close()
	// One first: asynq's queue bookkeeping is paid once, not per task.
	st := &stack{profiles: []string{"p1", "p2"}}
	if _, _, err := c.Publish(ctx, st.request(o, -1)); err != nil {
		return pendingResult{}, err
	}
	time.Sleep(settle)
	before, err := usedMemory(ctx, rc)
	if err != nil {
		return pendingResult{}, err
	}
	err = fanOut(o.publishers, n, func(i int) error {
		_, _, err := c.Publish(ctx, st.request(o, i))
		return err
	})
	if err != nil {
		return pendingResult{}, fmt.Errorf("publish: %w", err)
	}
	time.Sleep(settle)
	after, err := usedMemory(ctx, rc)
	if err != nil {
		return pendingResult{}, err
	}
	return pendingResult{n: n, bytes: after - before}, nil
}

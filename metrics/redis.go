package metrics

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// PolicyUnknown is the policy label while Redis will not say which it has
// (INFO refused, as some managed services and ACLs do).
const PolicyUnknown = "unknown"

// RedisStats is what the Redis servers that hold mediaflow's data say of
// their memory: the one server, the master behind Sentinel, or each master
// of a cluster.
type RedisStats struct {
	// Policies counts the servers by maxmemory-policy. Anything but
	// "noeviction" lets Redis drop records and tasks when it is full.
	Policies map[string]int
	// MemoryKnown says Used and Max were read.
	MemoryKnown bool
	// Used and Max are used_memory and maxmemory of the server with the
	// least headroom; Max 0 means it has no limit.
	Used, Max int64
}

type redisCollector struct {
	policy, used, max, headroom *prometheus.Desc
	poll                        pollerMetrics

	mu   sync.RWMutex
	snap *RedisStats // nil until the first successful refresh
}

func newRedisCollector(reg prometheus.Registerer) *redisCollector {
	c := &redisCollector{
		policy: prometheus.NewDesc(namespace+"_redis_maxmemory_policy",
			"Redis servers holding mediaflow's data (masters, on a cluster) by maxmemory-policy, as of the last background refresh; anything but noeviction may evict records and tasks (policy=\"unknown\": Redis would not say).",
			[]string{"policy"}, nil),
		used: prometheus.NewDesc(namespace+"_redis_memory_used_bytes",
			"used_memory of the Redis server with the least memory headroom, as of the last background refresh.",
			nil, nil),
		max: prometheus.NewDesc(namespace+"_redis_memory_max_bytes",
			"maxmemory of the Redis server with the least memory headroom (0: no limit), as of the last background refresh.",
			nil, nil),
		headroom: prometheus.NewDesc(namespace+"_redis_memory_headroom_ratio",
			"Share of maxmemory still free on the Redis server with the least headroom (at or below 0 Redis refuses writes under noeviction); absent when no server has a maxmemory.",
			nil, nil),
	}
	c.poll = newPollerMetrics(reg, "redis_stats", "Redis memory and eviction settings")
	reg.MustRegister(c)
	return c
}

func (c *redisCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.policy
	ch <- c.used
	ch <- c.max
	ch <- c.headroom
}

// Collect serves the cached snapshot; it never asks Redis.
func (c *redisCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.RLock()
	snap := c.snap
	c.mu.RUnlock()
	if snap == nil {
		return
	}
	policies := make([]string, 0, len(snap.Policies))
	for p := range snap.Policies {
		policies = append(policies, p)
	}
	sort.Strings(policies)
	for _, p := range policies {
		ch <- prometheus.MustNewConstMetric(c.policy, prometheus.GaugeValue, float64(snap.Policies[p]), p)
	}
	if !snap.MemoryKnown {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.used, prometheus.GaugeValue, float64(snap.Used))
	ch <- prometheus.MustNewConstMetric(c.max, prometheus.GaugeValue, float64(snap.Max))
	if snap.Max > 0 {
		ch <- prometheus.MustNewConstMetric(c.headroom, prometheus.GaugeValue, 1-float64(snap.Used)/float64(snap.Max))
	}
}

// WatchRedis returns a Poller that calls source every interval (<= 0
// means DefaultPollInterval) and serves what it returns as
// mediaflow_redis_maxmemory_policy{policy}, mediaflow_redis_memory_used_bytes,
// mediaflow_redis_memory_max_bytes and mediaflow_redis_memory_headroom_ratio.
// Call it once per Metrics.
func (m *Metrics) WatchRedis(source func(context.Context) (RedisStats, error), every time.Duration) *Poller {
	c := m.redis
	return newPoller(every, c.poll, func(ctx context.Context) error {
		stats, err := source(ctx)
		if err != nil {
			return err
		}
		policies := make(map[string]int, len(stats.Policies))
		for p, n := range stats.Policies {
			policies[p] = n
		}
		stats.Policies = policies
		c.mu.Lock()
		c.snap = &stats
		c.mu.Unlock()
		return nil
	})
}

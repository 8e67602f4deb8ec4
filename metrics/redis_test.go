package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

func TestWatchRedis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		stats        metrics.RedisStats
		policies     map[string]float64
		used, max    float64
		headroom     float64
		hasHeadroom  bool
		memoryServed bool
	}{
		{"limited", metrics.RedisStats{Policies: map[string]int{"noeviction": 1}, MemoryKnown: true, Used: 750, Max: 1000},
			map[string]float64{"noeviction": 1}, 750, 1000, 0.25, true, true},
		{"over the limit", metrics.RedisStats{Policies: map[string]int{"noeviction": 3}, MemoryKnown: true, Used: 1100, Max: 1000},
			map[string]float64{"noeviction": 3}, 1100, 1000, -0.1, true, true},
		{"no limit: no headroom", metrics.RedisStats{Policies: map[string]int{"allkeys-lru": 1}, MemoryKnown: true, Used: 10},
			map[string]float64{"allkeys-lru": 1}, 10, 0, 0, false, true},
		{"Redis would not say", metrics.RedisStats{Policies: map[string]int{metrics.PolicyUnknown: 1}},
			map[string]float64{"unknown": 1}, 0, 0, 0, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{})
			p := m.WatchRedis(func(context.Context) (metrics.RedisStats, error) { return tt.stats, nil }, time.Hour)
			if hasSeries(t, m, "mediaflow_redis_maxmemory_policy") {
				t.Fatal("served before any refresh")
			}
			p.Start()
			t.Cleanup(p.Shutdown)
			waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_redis_stats_last_success_timestamp_seconds") > 0 })
			for policy, n := range tt.policies {
				if v := value(t, m, "mediaflow_redis_maxmemory_policy", "policy", policy); v != n {
					t.Errorf("policy %s: %v, want %v", policy, v, n)
				}
			}
			if got := hasSeries(t, m, "mediaflow_redis_memory_used_bytes"); got != tt.memoryServed {
				t.Errorf("used bytes served: %v", got)
			}
			if v := value(t, m, "mediaflow_redis_memory_used_bytes"); v != tt.used {
				t.Errorf("used %v, want %v", v, tt.used)
			}
			if v := value(t, m, "mediaflow_redis_memory_max_bytes"); v != tt.max {
				t.Errorf("max %v, want %v", v, tt.max)
			}
			if got := hasSeries(t, m, "mediaflow_redis_memory_headroom_ratio"); got != tt.hasHeadroom {
				t.Fatalf("headroom served: %v, want %v", got, tt.hasHeadroom)
			}
			if v := value(t, m, "mediaflow_redis_memory_headroom_ratio"); tt.hasHeadroom && (v < tt.headroom-1e-9 || v > tt.headroom+1e-9) {
				t.Errorf("headroom %v, want %v", v, tt.headroom)
			}
		})
	}
}

package rdb

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

// Memory reads the policy and the memory figures; ProbeWrites passes while
// Redis takes writes and names the refusal once it is full, where a read
// still passes.
func TestMemoryAndProbeWrites(t *testing.T) {
	t.Parallel()
	_, r := setup(t)
	r.Own(t)
	ctx := context.Background()
	nodes, err := Memory(ctx, r.Client)
	if err != nil || len(nodes) != 1 {
		t.Fatalf("Memory: %v %+v", err, nodes)
	}
	if n := nodes[0]; n.Policy != NoEviction || n.Used <= 0 || n.Max != 0 || n.Headroom() != 1 || n.Addr != r.Addr {
		t.Fatalf("a fresh redis-server: %+v", n)
	}
	if err := ProbeWrites(ctx, r.Client, "mediaflow", "mediaflow-notify"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{readyKey(0), readyKey(Shards - 1), queueReadyKey("mediaflow")} {
		if ttl := r.Client.PTTL(ctx, k).Val(); ttl <= 0 || ttl > probeTTL {
			t.Errorf("probe key %s: TTL %v", k, ttl)
		}
	}

	if err := r.Client.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	used := nodes[0].Used
	if err := r.Client.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used/2, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	nodes, err = Memory(ctx, r.Client)
	if err != nil || nodes[0].Policy != "allkeys-lru" || nodes[0].Max != used/2 || nodes[0].Headroom() >= 0 {
		t.Fatalf("after CONFIG SET: %v %+v (headroom %v)", err, nodes, nodes[0].Headroom())
	}
	if err := r.Client.ConfigSet(ctx, "maxmemory-policy", NoEviction).Err(); err != nil {
		t.Fatal(err)
	}
	err = ProbeWrites(ctx, r.Client, "mediaflow")
	if err == nil || !strings.Contains(err.Error(), "OOM command not allowed") || !strings.Contains(err.Error(), "Redis refuses writes") {
		t.Fatalf("probe on a full Redis: %v", err)
	}
	if err := r.Client.DBSize(ctx).Err(); err != nil {
		t.Fatalf("a read on the full Redis: %v", err)
	}
}

// On a cluster every master is read, and a write refused by any one of
// them fails the probe.
func TestMemoryAndProbeWritesOnACluster(t *testing.T) {
	t.Parallel()
	cl, err := redisserver.StartCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Kill)
	rc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
	t.Cleanup(func() { _ = rc.Close() })
	ctx := context.Background()
	nodes, err := Memory(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.Addr)
	}
	slices.Sort(addrs)
	want := slices.Sorted(slices.Values(cl.Addrs))
	if !slices.Equal(addrs, want) {
		t.Fatalf("Memory read %v, want every master %v", addrs, want)
	}
	if err := ProbeWrites(ctx, rc, "mediaflow"); err != nil {
		t.Fatal(err)
	}
	// The master holding the pipeline queue's slot fills up.
	full, err := rc.MasterForKey(ctx, "asynq:{mediaflow}:pending")
	if err != nil {
		t.Fatal(err)
	}
	if err := full.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
		t.Fatal(err)
	}
	if err := ProbeWrites(ctx, rc, "mediaflow"); err == nil || !strings.Contains(err.Error(), "OOM") {
		t.Fatalf("probe with the queue's master full: %v", err)
	}
	if err := ProbeWrites(ctx, rc); err == nil {
		// The records' 16 shards are spread over every master, so they
		// alone already meet the full one.
		t.Fatal("probe of the record shards passed with a master full")
	}
}

package redisserver_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

func TestStartAnswersAndKillStops(t *testing.T) {
	t.Parallel()
	s, err := redisserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() == "" {
		t.Error("no version read from redis-server --version")
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping after Start: %v", err)
	}
	s.Kill()
	s.Kill() // a second Kill must not block or panic
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping after Kill succeeded")
	}
}

func TestAOFServerKeepsDataAcrossRestart(t *testing.T) {
	t.Parallel()
	s, err := redisserver.StartWith(t.TempDir(), redisserver.Options{AOF: true, Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	c := redis.NewClient(&redis.Options{Addr: s.Addr, Password: "pw"})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "before", 0).Err(); err != nil {
		t.Fatal(err)
	}
	addr := s.Addr
	// A crash, then a restart on the same port: what a worker sees when
	// Redis dies mid-run.
	s.Kill()
	if s.Running() {
		t.Fatal("Running after Kill")
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if s.Addr != addr {
		t.Fatalf("restarted on %s, was %s", s.Addr, addr)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "before" {
		t.Fatalf("after Kill and Restart: GET k = %q, %v; want \"before\"", got, err)
	}
	// Restart of a running server, and a graceful Stop.
	if err := c.Set(ctx, "k", "again", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	s.Stop()
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if got, err := c.Get(ctx, "k").Result(); err != nil || got != "again" {
		t.Fatalf("after Restart, Stop and Restart: GET k = %q, %v; want \"again\"", got, err)
	}
}

func TestPlainServerForgetsOnRestart(t *testing.T) {
	t.Parallel()
	// Proves the test above depends on AOF, not on the restart being fake.
	s, err := redisserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Kill)
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.Restart(); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("a server without AOF kept k across a restart: %d, %v", n, err)
	}
}

func TestClusterSpreadsSlots(t *testing.T) {
	t.Parallel()
	cl, err := redisserver.StartCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Kill)
	if len(cl.Addrs) != 3 || !strings.HasPrefix(cl.URL, "redis-cluster://") {
		t.Fatalf("addrs %v, URL %q", cl.Addrs, cl.URL)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: cl.Addrs})
	defer c.Close()
	ctx := context.Background()
	// {a}, {b} and {c} hash to slots on three different masters.
	owners := map[string]bool{}
	for _, k := range []string{"{a}k", "{b}k", "{c}k"} {
		if err := c.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if got, err := c.Get(ctx, k).Result(); err != nil || got != k {
			t.Fatalf("GET %s = %q, %v", k, got, err)
		}
		n, err := c.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		owners[n.Options().Addr] = true
	}
	if len(owners) != 3 {
		t.Errorf("keys landed on %d masters, want 3: %v", len(owners), owners)
	}
	// A plain client on one node is redirected: the cluster is real.
	one := redis.NewClient(&redis.Options{Addr: cl.Addrs[0]})
	defer one.Close()
	moved := 0
	for _, k := range []string{"{a}k", "{b}k", "{c}k"} {
		if err := one.Get(ctx, k).Err(); err != nil && strings.HasPrefix(err.Error(), "MOVED") {
			moved++
		}
	}
	if moved != 2 {
		t.Errorf("%d of 3 keys MOVED from one node, want 2", moved)
	}
}

func TestSentinelFailoverAndKill(t *testing.T) {
	t.Parallel()
	set, err := redisserver.StartSentinel(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Kill)
	ctx := context.Background()
	c := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: set.MasterName, SentinelAddrs: set.SentinelAddrs, Password: set.Password,
	})
	defer c.Close()
	// The master wants its password: a client without it is refused.
	first, err := set.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	noauth := redis.NewClient(&redis.Options{Addr: first.Addr})
	defer noauth.Close()
	if err := noauth.Set(ctx, "x", 1, 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Fatalf("SET without password: %v; want NOAUTH", err)
	}
	write := func(k string) {
		t.Helper()
		if err := c.Set(ctx, k, k, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		// Replication is asynchronous: wait for the replica before
		// taking the master away.
		if n, err := c.Wait(ctx, 1, 5*time.Second).Result(); err != nil || n != 1 {
			t.Fatalf("WAIT 1: %d, %v", n, err)
		}
	}
	write("k1")
	if err := set.Failover(); err != nil {
		t.Fatal(err)
	}
	second, err := set.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second == first {
		t.Fatalf("master still %s after Failover", first.Addr)
	}
	if got, err := c.Get(ctx, "k1").Result(); err != nil || got != "k1" {
		t.Fatalf("GET k1 after Failover = %q, %v", got, err)
	}
	write("k2")
	killed, err := set.KillMaster()
	if err != nil {
		t.Fatal(err)
	}
	if killed != second {
		t.Fatalf("KillMaster killed %s, master was %s", killed.Addr, second.Addr)
	}
	third, err := set.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if third != first {
		t.Fatalf("master %s after KillMaster, want %s", third.Addr, first.Addr)
	}
	for _, k := range []string{"k1", "k2"} {
		if got, err := c.Get(ctx, k).Result(); err != nil || got != k {
			t.Fatalf("GET %s after KillMaster = %q, %v", k, got, err)
		}
	}
}

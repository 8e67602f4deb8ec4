package redisurl_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisserver"
	"github.com/mediaflow/mediaflow/internal/redisurl"
)

// The bug this package exists for: asynq's parser sent a Sentinel URL's
// writes to DB 0 and gave its password to the sentinels only, so a
// password-protected master answered NOAUTH.
func TestSentinelURLWritesToItsDBOnThePasswordMaster(t *testing.T) {
	t.Parallel()
	set, err := redisserver.StartSentinel(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(set.Kill)
	raw := fmt.Sprintf("redis-sentinel://:%s@%s/3?master=%s", set.Password, strings.Join(set.SentinelAddrs, ","), set.MasterName)
	rc, err := redisurl.NewClient(raw)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ctx := context.Background()
	if err := rc.Set(ctx, "where", "db3", 0).Err(); err != nil {
		t.Fatalf("SET through %s: %v", redisurl.Redacted(raw), err)
	}
	m, err := set.Master(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for db, want := range map[int]string{3: "db3", 0: ""} {
		direct := redis.NewClient(&redis.Options{Addr: m.Addr, Password: set.Password, DB: db})
		got, err := direct.Get(ctx, "where").Result()
		_ = direct.Close()
		if err != nil && err != redis.Nil {
			t.Fatalf("GET on master %s DB %d: %v", m.Addr, db, err)
		}
		if got != want {
			t.Errorf("master %s DB %d holds %q, want %q", m.Addr, db, got, want)
		}
	}
	// Without the master's password the same URL is refused by the master,
	// not by the sentinels (which have none).
	bad, err := redisurl.NewClient(fmt.Sprintf("redis-sentinel://%s/3?master=%s", strings.Join(set.SentinelAddrs, ","), set.MasterName))
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Close()
	if err := bad.Set(ctx, "where", "x", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOAUTH") {
		t.Errorf("SET without the master password: %v; want NOAUTH", err)
	}
}

func TestClusterURLGivesAClusterClient(t *testing.T) {
	t.Parallel()
	cl, err := redisserver.StartCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Kill)
	rc, err := redisurl.NewClient(cl.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cc, ok := rc.(*redis.ClusterClient)
	if !ok {
		t.Fatalf("%s gave a %T, want *redis.ClusterClient", cl.URL, rc)
	}
	ctx := context.Background()
	if err := cc.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]bool{}
	for i := range 30 {
		k := fmt.Sprintf("key-%d", i)
		if err := cc.Set(ctx, k, i, 0).Err(); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		if got, err := cc.Get(ctx, k).Int(); err != nil || got != i {
			t.Fatalf("GET %s = %d, %v", k, got, err)
		}
		n, err := cc.MasterForKey(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		nodes[n.Options().Addr] = true
	}
	if len(nodes) != 3 {
		t.Errorf("30 keys reached %d masters, want 3", len(nodes))
	}
}

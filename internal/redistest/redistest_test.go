package redistest_test

import (
	"context"
	"testing"

	"github.com/mediaflow/mediaflow/internal/redistest"
)

func TestNewGivesEachTestItsOwnRedis(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a := redistest.New(t)
	b := redistest.New(t)
	if err := a.Client.Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Client.Exists(ctx, "k").Result(); err != nil || n != 0 {
		t.Fatalf("second Redis sees the first one's key: exists=%d err=%v", n, err)
	}
	if a.URL == b.URL {
		t.Fatalf("both got %s", a.URL)
	}
}

func TestSharedServerHandsOutDistinctDatabases(t *testing.T) {
	ctx := context.Background()
	server := redistest.New(t)
	if server.URL == "" || server.Addr == "" {
		t.Fatalf("incomplete bundle %+v", server)
	}
	t.Setenv("REDIS_URL", "redis://"+server.Addr)
	a := redistest.New(t)
	b := redistest.New(t)
	if a.DB == b.DB || a.DB == 0 || b.DB == 0 {
		t.Fatalf("databases a=%d b=%d: want two distinct, non-zero", a.DB, b.DB)
	}
	if err := a.Client.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Client.Exists(ctx, "k").Result(); n != 0 {
		t.Fatal("databases are not isolated")
	}
	claims, err := server.Client.Keys(ctx, "redistest:claim:*").Result()
	if err != nil || len(claims) != 2 {
		t.Fatalf("claims = %v, %v; want 2", claims, err)
	}
}

func TestStopKillsTheServer(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	r.Stop(t)
	if err := r.Client.Ping(context.Background()).Err(); err == nil {
		t.Fatal("ping after Stop succeeded")
	}
}

package rdb_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

func TestBudgetTakeIsGCRA(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	const ep = "POST /media"
	// 5 calls/s (one per 200ms), 2 at once.
	steps := []struct {
		at      time.Duration
		allowed bool
		wait    time.Duration
	}{
		{0, true, 0},
		{0, true, 0},
		{0, false, 200 * time.Millisecond},
		{150 * time.Millisecond, false, 50 * time.Millisecond},
		{200 * time.Millisecond, true, 0},
		{200 * time.Millisecond, false, 200 * time.Millisecond},
		// A long idle spell refills only up to the burst.
		{10 * time.Second, true, 0},
		{10 * time.Second, true, 0},
		{10 * time.Second, false, 200 * time.Millisecond},
	}
	for i, s := range steps {
		ok, wait, paused, err := b.Take(ctx, ep, 5, 2, budgetT0.Add(s.at))
		if err != nil || ok != s.allowed || wait != s.wait || paused {
			t.Fatalf("step %d at +%v: allowed=%v wait=%v paused=%v err=%v, want allowed=%v wait=%v",
				i, s.at, ok, wait, paused, err, s.allowed, s.wait)
		}
	}
	// Other workspaces have budgets of their own.
	other := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-2"))
	if ok, _, _, err := other.Take(ctx, ep, 5, 2, budgetT0.Add(10*time.Second)); err != nil || !ok {
		t.Fatalf("another workspace: allowed=%v err=%v", ok, err)
	}
	if _, _, _, err := b.Take(ctx, ep, 0, 2, budgetT0); err == nil {
		t.Fatal("a zero rate was accepted")
	}
}

func TestBudgetPause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	take := func(ep string, at time.Duration) (bool, time.Duration, bool) {
		t.Helper()
		ok, wait, paused, err := b.Take(ctx, ep, 1000, 100, budgetT0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return ok, wait, paused
	}
	until, err := b.Pause(ctx, "POST /posts", 2*time.Second, budgetT0)
	if err != nil || !until.Equal(budgetT0.Add(2*time.Second)) {
		t.Fatalf("pause: until %v, %v", until, err)
	}
	if ok, wait, paused := take("POST /posts", 500*time.Millisecond); ok || !paused || wait != 1500*time.Millisecond {
		t.Fatalf("paused endpoint: allowed=%v wait=%v paused=%v", ok, wait, paused)
	}
	if ok, _, paused := take("GET /posts", 500*time.Millisecond); !ok || paused {
		t.Fatal("a pause of one endpoint held another")
	}
	// A shorter pause does not cut a longer one short.
	if until, err := b.Pause(ctx, "POST /posts", time.Second, budgetT0.Add(500*time.Millisecond)); err != nil || !until.Equal(budgetT0.Add(2*time.Second)) {
		t.Fatalf("shorter pause: until %v, %v", until, err)
	}
	if ok, _, _ := take("POST /posts", 2*time.Second); !ok {
		t.Fatal("the pause outlived its time")
	}
	if _, err := b.Pause(ctx, rdb.AllEndpoints, 3*time.Second, budgetT0.Add(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	for _, ep := range []string{"POST /posts", "GET /media/{id}"} {
		if ok, wait, paused := take(ep, 4*time.Second); ok || !paused || wait != time.Second {
			t.Fatalf("%s under a workspace pause: allowed=%v wait=%v paused=%v", ep, ok, wait, paused)
		}
	}

	// Both keys share one hash tag, say nothing of the API id, and expire.
	keys, err := r.Client.Keys(ctx, "mediaflow:budget:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("budget keys %v, %v", keys, err)
	}
	tag := "{" + rdb.BudgetWorkspace("app-1") + "}"
	for _, k := range keys {
		if !strings.Contains(k, tag) || strings.Count(k, "{") != 1 || strings.Contains(k, "app-1") {
			t.Errorf("key %q: want exactly the hash tag %s and no API id", k, tag)
		}
		if ttl := r.Client.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q does not expire (%v)", k, ttl)
		}
	}
}

// TestBudgetOnTheRedisClock: with no clock given the server's is used.
func TestBudgetOnTheRedisClock(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	for i, want := range []bool{true, true, false} {
		ok, wait, _, err := b.Take(ctx, "GET /profiles", 1, 2, time.Time{})
		if err != nil || ok != want || (!ok && (wait <= 0 || wait > time.Second)) {
			t.Fatalf("take %d: allowed=%v wait=%v err=%v", i, ok, wait, err)
		}
	}
	if _, err := b.Pause(ctx, rdb.AllEndpoints, time.Minute, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ok, wait, paused, err := b.Take(ctx, "GET /profiles", 1, 2, time.Time{}); err != nil || ok || !paused || wait < 59*time.Second {
		t.Fatalf("paused: allowed=%v wait=%v paused=%v err=%v", ok, wait, paused, err)
	}
}

var budgetT0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

package rdb_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

// take asks for one call that may go now, as a worker with nothing leased
// does.
func take(t *testing.T, b *rdb.Budget, ep string, rate float64, burst int, now time.Time) (bool, time.Duration, bool) {
	t.Helper()
	l, err := b.Lease(context.Background(), rdb.LeaseAsk{Endpoint: ep, Rate: rate, Burst: burst, N: 1, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Offsets) > 1 || (len(l.Offsets) == 1 && l.Offsets[0] != 0) {
		t.Fatalf("asked for one call now, got %v", l.Offsets)
	}
	return len(l.Offsets) == 1, l.Wait, l.Paused
}

func TestBudgetTakeIsGCRA(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	const ep = "POST /media"
	// 5 calls/s (one per 200ms), 2 at once; wait is checked when refused.
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
		ok, wait, paused := take(t, b, ep, 5, 2, budgetT0.Add(s.at))
		if ok != s.allowed || (!ok && wait != s.wait) || paused {
			t.Fatalf("step %d at +%v: allowed=%v wait=%v paused=%v, want allowed=%v wait=%v",
				i, s.at, ok, wait, paused, s.allowed, s.wait)
		}
	}
	// Other workspaces have budgets of their own.
	other := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-2"))
	if ok, _, _ := take(t, other, ep, 5, 2, budgetT0.Add(10*time.Second)); !ok {
		t.Fatal("another workspace was held by this one's budget")
	}
	if _, err := b.Lease(context.Background(), rdb.LeaseAsk{Endpoint: ep, Burst: 2, N: 1, Now: budgetT0}); err == nil {
		t.Fatal("a zero rate was accepted")
	}
}

// A lease hands out the send times n takes in a row would get, up to the
// horizon: the burst at once, then one per interval.
func TestBudgetLease(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	ctx := context.Background()
	ms := func(vs ...int) []time.Duration {
		var out []time.Duration
		for _, v := range vs {
			out = append(out, time.Duration(v)*time.Millisecond)
		}
		return out
	}
	tests := []struct {
		name    string
		at      time.Duration
		ask     rdb.LeaseAsk
		offsets []time.Duration
		wait    time.Duration
	}{
		{"the burst, then the rate within the horizon", 0, rdb.LeaseAsk{Rate: 10, Burst: 3, N: 10, Horizon: 250 * time.Millisecond},
			ms(0, 0, 0, 100, 200), 300 * time.Millisecond},
		{"fewer than the horizon allows when fewer are asked", time.Second, rdb.LeaseAsk{Rate: 10, Burst: 3, N: 2, Horizon: time.Second},
			ms(0, 0), 0},
		{"what the last lease reserved is not handed out again", time.Second, rdb.LeaseAsk{Rate: 10, Burst: 3, N: 3, Horizon: 150 * time.Millisecond},
			ms(0, 100), 200 * time.Millisecond},
		{"nothing within a horizon of 0", time.Second, rdb.LeaseAsk{Rate: 10, Burst: 3, N: 3},
			nil, 200 * time.Millisecond},
		{"slack shrinks the burst", 5 * time.Second, rdb.LeaseAsk{Rate: 10, Burst: 3, N: 5, Slack: 50 * time.Millisecond},
			ms(0, 0), 50 * time.Millisecond},
		{"no pacing at an unlimited rate", 5 * time.Second, rdb.LeaseAsk{Rate: math.Inf(1), Burst: 1, N: 3},
			ms(0, 0, 0), 0},
	}
	for _, tt := range tests {
		a := tt.ask
		a.Endpoint, a.Now = "GET /media/{id}", budgetT0.Add(tt.at)
		l, err := b.Lease(ctx, a)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(l.Offsets, tt.offsets) || (tt.wait != 0 && l.Wait != tt.wait) || l.Paused || len(l.Pauses) != 0 {
			t.Errorf("%s: offsets %v wait %v paused %v %v, want %v wait %v", tt.name, l.Offsets, l.Wait, l.Paused, l.Pauses, tt.offsets, tt.wait)
		}
	}
}

func TestBudgetPause(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	take := func(ep string, at time.Duration) (bool, time.Duration, bool) {
		t.Helper()
		return take(t, b, ep, 1000, 100, budgetT0.Add(at))
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
	// Every lease, and a read of the pauses alone, tells of the pauses in
	// force, whatever the endpoint asked for.
	for _, n := range []int{0, 1} {
		l, err := b.Lease(ctx, rdb.LeaseAsk{Endpoint: "GET /posts", Rate: 1000, Burst: 100, N: n, Now: budgetT0.Add(600 * time.Millisecond)})
		if err != nil || len(l.Pauses) != 1 || l.Pauses["POST /posts"] != 1400*time.Millisecond || len(l.Offsets) != n {
			t.Fatalf("lease of %d: %+v %v", n, l, err)
		}
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
	if _, err := b.Present(ctx, "worker-1", time.Minute); err != nil {
		t.Fatal(err)
	}

	// Every key shares one hash tag, says nothing of the API id, and expires.
	keys, err := r.Client.Keys(ctx, "mediaflow:budget:*").Result()
	if err != nil || len(keys) != 3 {
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
		ok, wait, _ := take(t, b, "GET /profiles", 1, 2, time.Time{})
		if ok != want || (!ok && (wait <= 0 || wait > time.Second)) {
			t.Fatalf("take %d: allowed=%v wait=%v", i, ok, wait)
		}
	}
	if _, err := b.Pause(ctx, rdb.AllEndpoints, time.Minute, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ok, wait, paused := take(t, b, "GET /profiles", 1, 2, time.Time{}); ok || !paused || wait < 59*time.Second {
		t.Fatalf("paused: allowed=%v wait=%v paused=%v", ok, wait, paused)
	}
}

// Present counts the processes seen lately; one that left or was not seen
// for the time given is not counted.
func TestBudgetPeers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	b := rdb.NewBudget(r.Client, rdb.BudgetWorkspace("app-1"))
	for i, id := range []string{"a", "b", "c", "a"} {
		n, err := b.Present(ctx, id, time.Minute)
		if err != nil || n != min(i+1, 3) {
			t.Fatalf("present %s: %d %v", id, n, err)
		}
	}
	if err := b.Leave(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Present(ctx, "a", time.Minute); err != nil || n != 2 {
		t.Fatalf("after b left: %d %v", n, err)
	}
	time.Sleep(20 * time.Millisecond)
	if n, err := b.Present(ctx, "a", 10*time.Millisecond); err != nil || n != 1 {
		t.Fatalf("with c not seen for longer than asked: %d %v", n, err)
	}
}

var budgetT0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

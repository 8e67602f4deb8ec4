package rdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

// Failures are GCRA cells: perMinute of them at once, then one every
// minute/perMinute; a failure over the limit is not counted, and asking
// (Over) takes nothing.
func TestAuthFailuresAreGCRA(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	a := rdb.NewAuthFailures(r.Client)
	const client = "203.0.113.9"
	// 3 a minute: one every 20 s, 3 at once.
	steps := []struct {
		peek bool
		at   time.Duration
		over bool
		wait time.Duration
	}{
		{false, 0, false, 0},
		{true, 0, false, 0},
		{false, 0, false, 0},
		{false, 0, false, 0},
		{true, 0, true, 20 * time.Second},
		{false, 0, true, 20 * time.Second},
		// Refused failures are not counted: the wait does not grow.
		{false, 5 * time.Second, true, 15 * time.Second},
		{true, 20 * time.Second, false, 0},
		{false, 20 * time.Second, false, 0},
		{false, 20 * time.Second, true, 20 * time.Second},
		// A quiet spell refills only up to the limit.
		{false, time.Hour, false, 0},
		{false, time.Hour, false, 0},
		{false, time.Hour, false, 0},
		{false, time.Hour, true, 20 * time.Second},
	}
	for i, s := range steps {
		f := a.Fail
		if s.peek {
			f = a.Over
		}
		over, wait, err := f(ctx, client, 3, budgetT0.Add(s.at))
		if err != nil || over != s.over || wait != s.wait {
			t.Fatalf("step %d (peek %v) at +%v: over=%v wait=%v err=%v, want over=%v wait=%v",
				i, s.peek, s.at, over, wait, err, s.over, s.wait)
		}
	}
	// Other clients count on their own.
	if over, _, err := a.Fail(ctx, "2001:db8:1:2::/64", 3, budgetT0.Add(time.Hour)); err != nil || over {
		t.Fatalf("another client: over=%v err=%v", over, err)
	}
	if _, _, err := a.Fail(ctx, client, 0, budgetT0); err == nil {
		t.Fatal("a limit of 0 was accepted")
	}
	// The keys expire on their own, and only failures write one.
	keys, err := r.Client.Keys(ctx, "mediaflow:authfail:*").Result()
	if err != nil || len(keys) != 2 {
		t.Fatalf("keys %v, %v", keys, err)
	}
	for _, k := range keys {
		if ttl := r.Client.PTTL(ctx, k).Val(); ttl <= 0 {
			t.Errorf("key %q does not expire (%v)", k, ttl)
		}
	}
	if over, _, err := a.Over(ctx, "198.51.100.1", 3, time.Time{}); err != nil || over {
		t.Fatalf("a client without failures: over=%v err=%v", over, err)
	}
	if n := len(r.Client.Keys(ctx, "mediaflow:authfail:*").Val()); n != 2 {
		t.Errorf("asking wrote a key: %d keys", n)
	}
}

// A revoked session stays revoked for the time it had left, then its
// entry goes.
func TestSessionsRevoked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	s := rdb.NewSessions(r.Client)
	if gone, err := s.Revoked(ctx, "abc"); err != nil || gone {
		t.Fatalf("before: revoked=%v err=%v", gone, err)
	}
	if err := s.Revoke(ctx, "abc", time.Hour); err != nil {
		t.Fatal(err)
	}
	if gone, err := s.Revoked(ctx, "abc"); err != nil || !gone {
		t.Fatalf("after: revoked=%v err=%v", gone, err)
	}
	if gone, _ := s.Revoked(ctx, "abd"); gone {
		t.Error("another session is revoked too")
	}
	ttl := r.Client.PTTL(ctx, "mediaflow:ui:revoked:abc").Val()
	if ttl <= 59*time.Minute || ttl > time.Hour {
		t.Errorf("entry lives %v, want the session's hour", ttl)
	}
	if err := s.Revoke(ctx, "old", 0); err != nil {
		t.Fatal(err)
	}
	if n := r.Client.Exists(ctx, "mediaflow:ui:revoked:old").Val(); n != 0 {
		t.Error("an expired session got an entry")
	}
}

package rdb_test

import (
	"context"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

// A workspace's active pipelines: at most max pipelines hold a place; a
// second run of a pipeline that holds one shares it; a released place or
// an ended lease frees it.
func TestActivePipelinesAreBoundedByPipeline(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	ctx := context.Background()
	a := rdb.NewActive(r.Client, "acme")
	admit := func(pipeline, run string, lease time.Duration) bool {
		t.Helper()
		ok, err := a.Admit(ctx, pipeline, run, 2, lease)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	steps := []struct {
		name          string
		pipeline, run string
		lease         time.Duration
		release       bool
		want          bool
	}{
		{"first pipeline", "p1", "r1", time.Minute, false, true},
		{"second pipeline", "p2", "r2", 300 * time.Millisecond, false, true},
		{"a third is refused at max 2", "p3", "r3", time.Minute, false, false},
		{"another run of a pipeline holding a place shares it", "p1", "r4", time.Minute, false, true},
		{"the first pipeline's runs give their places back", "p1", "r1", 0, true, false},
		{"(its other run too)", "p1", "r4", 0, true, false},
		{"a freed place is taken", "p3", "r5", time.Minute, false, true},
		{"and then none is left", "p4", "r6", time.Minute, false, false},
	}
	for _, s := range steps {
		if s.release {
			if err := a.Release(ctx, s.pipeline, s.run); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if got := admit(s.pipeline, s.run, s.lease); got != s.want {
			t.Fatalf("%s: admitted %v, want %v", s.name, got, s.want)
		}
	}
	// p2's lease ends (its worker died): its place frees by itself.
	time.Sleep(400 * time.Millisecond)
	if !admit("p4", "r7", time.Minute) {
		t.Fatal("a place whose lease ended is still held")
	}
	// Another workspace's places are its own.
	if ok, err := rdb.NewActive(r.Client, "globex").Admit(ctx, "p9", "r9", 1, time.Minute); err != nil || !ok {
		t.Fatalf("another workspace is refused: %v, %v", ok, err)
	}
}

// Turns are handed out an interval apart, from the earliest wait on, and
// start over once the last one is past.
func TestTurnsAreSpacedByTheInterval(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	ctx := context.Background()
	turns := rdb.NewBudgetTurns(r.Client, rdb.BudgetWorkspace("turns-app"))
	// Each offset is from Redis's now at that call, so turn i comes in
	// 100 ms + i×200 ms less the time since the first call: at most the
	// elapsed time measured here (the calls' own round trips, however long
	// a loaded machine makes them), plus a millisecond of rounding.
	var got, elapsed []time.Duration
	first := time.Now()
	for range 4 {
		d, err := turns.Next(ctx, 200*time.Millisecond, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		got, elapsed = append(got, d), append(elapsed, time.Since(first))
	}
	for i, d := range got {
		want := 100*time.Millisecond + time.Duration(i)*200*time.Millisecond
		if d < want-elapsed[i]-2*time.Millisecond || d > want+5*time.Millisecond {
			t.Errorf("turn %d in %v, want about %v less the %v since the first call (all: %v)", i, d, want, elapsed[i], got)
		}
	}
	time.Sleep(800 * time.Millisecond)
	if d, err := turns.Next(ctx, 200*time.Millisecond, 100*time.Millisecond); err != nil || d > 105*time.Millisecond {
		t.Errorf("after the last turn passed: next in %v (%v), want the earliest wait", d, err)
	}
}

package rdb_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/tasks/internal/rdb"
)

func setup(t *testing.T) (*rdb.RDB, *redistest.Redis) {
	t.Helper()
	r := redistest.New(t)
	return rdb.New(r.Client), r
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

func TestCreateIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	created, existing, err := db.Create(ctx, "a", []byte(`{"n":1}`), rdb.Meta{State: "pending", Created: t0, Due: t0})
	if err != nil || !created || existing != nil {
		t.Fatalf("first create: created=%v existing=%v err=%v", created, existing, err)
	}
	created, existing, err = db.Create(ctx, "a", []byte(`{"n":2}`), rdb.Meta{State: "pending", Created: t0})
	if err != nil || created || existing == nil || string(existing.Doc) != `{"n":1}` || existing.Version != 1 {
		t.Fatalf("second create: created=%v existing=%+v err=%v", created, existing, err)
	}
}

func TestPutIsCompareAndSet(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	m := rdb.Meta{State: "pending", Created: t0}
	if _, _, err := db.Create(ctx, "a", []byte(`1`), m); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, "a", 1, []byte(`2`), m, m); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, "a", 1, []byte(`3`), m, m); !errors.Is(err, rdb.ErrConflict) {
		t.Fatalf("stale version: err=%v, want ErrConflict", err)
	}
	if err := db.Put(ctx, "missing", 1, []byte(`3`), m, m); !errors.Is(err, rdb.ErrNotFound) {
		t.Fatalf("missing record: err=%v, want ErrNotFound", err)
	}
	e, err := db.Get(ctx, "a")
	if err != nil || string(e.Doc) != "2" || e.Version != 2 {
		t.Fatalf("got %+v, %v", e, err)
	}
	if _, err := db.Get(ctx, "missing"); !errors.Is(err, rdb.ErrNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
}

func TestConcurrentPutsLoseNoWrite(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	m := rdb.Meta{State: "running", Created: t0}
	if _, _, err := db.Create(ctx, "a", []byte(`0`), m); err != nil {
		t.Fatal(err)
	}
	// Eight writers each add 25 increments through read-modify-CAS; any
	// lost update shows as a final count below 200.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 25 {
				for {
					e, err := db.Get(ctx, "a")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					fmt.Sscan(string(e.Doc), &n)
					err = db.Put(ctx, "a", e.Version, []byte(fmt.Sprint(n+1)), m, m)
					if err == nil {
						break
					}
					if !errors.Is(err, rdb.ErrConflict) {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	e, _ := db.Get(ctx, "a")
	if string(e.Doc) != "200" || e.Version != 201 {
		t.Fatalf("doc=%s version=%d, want 200 and 201", e.Doc, e.Version)
	}
}

func TestIndexesFollowState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, r := setup(t)
	pending := rdb.Meta{State: "pending", Created: t0, Due: t0.Add(time.Minute)}
	if _, _, err := db.Create(ctx, "a", []byte(`1`), pending); err != nil {
		t.Fatal(err)
	}
	running := rdb.Meta{State: "running", Created: t0, Due: t0.Add(time.Hour)}
	if err := db.Put(ctx, "a", 1, []byte(`2`), pending, running); err != nil {
		t.Fatal(err)
	}
	failed := rdb.Meta{State: "failed", Created: t0, Cleanup: t0.Add(2 * time.Hour)}
	if err := db.Put(ctx, "a", 2, []byte(`3`), running, failed); err != nil {
		t.Fatal(err)
	}
	c, err := db.Count(ctx, []string{"pending", "running", "failed"}, t0.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if c.ByState["pending"] != 0 || c.ByState["running"] != 0 || c.ByState["failed"] != 1 || c.Overdue != 0 || c.CleanupOwed != 1 {
		t.Fatalf("counts %+v", c)
	}
	owed, _ := db.CleanupOwed(ctx, t0.Add(3*time.Hour), 10)
	if !slices.Equal(owed, []string{"a"}) {
		t.Fatalf("cleanup owed = %v", owed)
	}
	if err := db.Delete(ctx, "a", failed); err != nil {
		t.Fatal(err)
	}
	keys, _ := r.Client.Keys(ctx, "mediaflow:*").Result()
	for _, k := range keys {
		if n, _ := r.Client.ZCard(ctx, k).Result(); n > 0 {
			t.Errorf("index %s still holds %d entries after Delete", k, n)
		}
	}
}

func TestDueAndSetDue(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	for i, id := range []string{"a", "b", "c"} {
		m := rdb.Meta{State: "running", Created: t0, Due: t0.Add(time.Duration(i) * time.Hour)}
		if _, _, err := db.Create(ctx, id, []byte(`1`), m); err != nil {
			t.Fatal(err)
		}
	}
	due, _ := db.Due(ctx, t0.Add(90*time.Minute), 10)
	if !slices.Equal(due, []string{"a", "b"}) {
		t.Fatalf("due = %v", due)
	}
	if err := db.SetDue(ctx, "a", t0.Add(5*time.Hour)); err != nil {
		t.Fatal(err)
	}
	due, _ = db.Due(ctx, t0.Add(90*time.Minute), 10)
	if !slices.Equal(due, []string{"b"}) {
		t.Fatalf("after SetDue, due = %v", due)
	}
	// SetDue must not resurrect an entry that left the index.
	if err := db.SetDue(ctx, "gone", t0); err != nil {
		t.Fatal(err)
	}
	due, _ = db.Due(ctx, t0.Add(time.Hour*10), 10)
	if slices.Contains(due, "gone") {
		t.Fatal("SetDue added an entry")
	}
}

func TestListPagesNewestFirstWithoutGapsOrRepeats(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	// 25 records, several per millisecond, so pages cut through ties.
	var want []string
	for i := range 25 {
		id := fmt.Sprintf("id-%02d", i)
		m := rdb.Meta{State: []string{"running", "failed"}[i%2], Created: t0.Add(time.Duration(i/3) * time.Millisecond)}
		if _, _, err := db.Create(ctx, id, []byte(`1`), m); err != nil {
			t.Fatal(err)
		}
		want = append(want, id)
	}
	for _, tt := range []struct {
		state string
		limit int
	}{{"", 4}, {"", 25}, {"", 100}, {"failed", 3}, {"running", 5}} {
		var got []string
		cursor := ""
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatal("pagination does not end")
			}
			p, err := db.List(ctx, tt.state, cursor, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.IDs) > tt.limit {
				t.Fatalf("page of %d > limit %d", len(p.IDs), tt.limit)
			}
			got = append(got, p.IDs...)
			if p.Next == "" {
				break
			}
			cursor = p.Next
		}
		var expect []string
		for i := len(want) - 1; i >= 0; i-- {
			if tt.state == "" || tt.state == []string{"running", "failed"}[i%2] {
				expect = append(expect, want[i])
			}
		}
		// Within one millisecond the order is by id, descending; across
		// milliseconds newest first — the same as reversed creation here.
		if !slices.Equal(got, expect) {
			t.Errorf("state=%q limit=%d:\n got %v\nwant %v", tt.state, tt.limit, got, expect)
		}
	}
	if _, err := db.List(ctx, "", "not-a-cursor!", 5); !errors.Is(err, rdb.ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

func TestClaimSweepOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	ok1, err1 := db.ClaimSweep(ctx, "100", "w1", time.Minute)
	ok2, err2 := db.ClaimSweep(ctx, "100", "w2", time.Minute)
	if err1 != nil || err2 != nil || !ok1 || ok2 {
		t.Fatalf("claims: %v %v %v %v", ok1, err1, ok2, err2)
	}
	if h, _ := db.SweepHolder(ctx, "100"); h != "w1" {
		t.Fatalf("holder %q", h)
	}
	for i := range 60 {
		if err := db.RecordSweep(ctx, []byte(fmt.Sprint(i)), 50); err != nil {
			t.Fatal(err)
		}
	}
	s, _ := db.Sweeps(ctx)
	if len(s) != 50 || s[0] != "59" {
		t.Fatalf("kept %d sweeps, newest %q", len(s), s[0])
	}
}

func TestScriptsTouchOneSlot(t *testing.T) {
	t.Parallel()
	// Every key of one record must hash to one cluster slot: the record
	// key carries the id as its hash tag.
	ctx := context.Background()
	db, r := setup(t)
	if _, _, err := db.Create(ctx, "01936a6e-0000-7000-8000-000000000001", []byte(`1`), rdb.Meta{State: "pending", Created: t0}); err != nil {
		t.Fatal(err)
	}
	keys, _ := r.Client.Keys(ctx, "mediaflow:{*}*").Result()
	if len(keys) != 1 || keys[0] != "mediaflow:{01936a6e-0000-7000-8000-000000000001}:pipeline" {
		t.Fatalf("record keys %v", keys)
	}
}

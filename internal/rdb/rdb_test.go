package rdb

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redistest"
)

var states = []string{"pending", "running", "succeeded", "failed", "cancelled"}

func setup(t *testing.T) (*RDB, *redistest.Redis) {
	t.Helper()
	r := redistest.New(t)
	return New(r.Client, states), r
}

var t0 = time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)

// retention is the sweep's default: its now is the cutoff and this.
const retention = 7 * 24 * time.Hour

// entries returns the index kinds (and "state:<s>") that hold id.
func entries(t *testing.T, db *RDB, id string) []string {
	t.Helper()
	var out []string
	shard := ShardOf(id)
	kinds := append(slices.Clone(indexKinds), func() []string {
		var s []string
		for _, st := range states {
			s = append(s, "state:"+st)
		}
		return s
	}()...)
	for _, k := range kinds {
		if _, err := db.c.ZScore(context.Background(), shardPrefix(shard)+k, id).Result(); err == nil {
			out = append(out, k)
		}
	}
	// The finished list: "finished" when its newest entry for id is the
	// record's done time.
	list, err := db.c.LRange(context.Background(), finishedKey(shard), 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range slices.Backward(list) {
		if at, eid, _ := strings.Cut(e, ":"); eid == id {
			if m := storedMeta(t, db, id); strings.HasSuffix(m, "|"+at) {
				out = append(out, "finished")
			}
			break
		}
	}
	return out
}

// storedMeta is the meta a record is stored with, in either form.
func storedMeta(t *testing.T, db *RDB, id string) string {
	t.Helper()
	ctx := context.Background()
	if m, err := db.c.HGet(ctx, recordKey(id), "meta").Result(); err == nil {
		return m
	}
	s, err := db.c.Get(ctx, packedKey(id)).Result()
	if err != nil {
		return ""
	}
	head, _, _ := strings.Cut(s, "\n")
	_, m, _ := strings.Cut(head, " ")
	return m
}

func TestEveryKeyOfARecordIsInItsShardsSlot(t *testing.T) {
	t.Parallel()
	db, _ := setup(t)
	seen := map[int]bool{}
	for i := range 200 {
		id := fmt.Sprintf("pipeline-%d", i)
		tag := tag(ShardOf(id))
		for _, k := range db.recordKeys(id) {
			if !strings.Contains(k, tag) || strings.Count(k, "{") != 1 {
				t.Fatalf("key %s of record %s does not carry its shard tag %s alone", k, id, tag)
			}
		}
		seen[ShardOf(id)] = true
	}
	if len(seen) != Shards {
		t.Errorf("200 ids used %d of %d shards", len(seen), Shards)
	}
}

// A record is found by its shard, so ShardOf must stay 32-bit FNV-1a of
// the id modulo Shards, the function every earlier worker used.
func TestShardOfNeverChanges(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"", "a", "pipeline-7", "01a2520f-7e4d-7dc2-be30-d9f4f26caa16", "é\x00\xff"} {
		h := fnv.New32a()
		_, _ = h.Write([]byte(id))
		if got, want := ShardOf(id), int(h.Sum32()%Shards); got != want {
			t.Errorf("ShardOf(%q) = %d, want %d", id, got, want)
		}
	}
	// Pinned, so a change of Shards or of the hash fails here too.
	for id, want := range map[string]int{"a": 12, "pipeline-7": 7, "01a2520f-7e4d-7dc2-be30-d9f4f26caa16": 7} {
		if got := ShardOf(id); got != want {
			t.Errorf("ShardOf(%q) = %d, want %d: records written before would not be found", id, got, want)
		}
	}
}

func TestCreateIsIdempotentAndRepairsIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	m := Meta{State: "pending", Created: t0, Due: t0.Add(time.Minute)}
	created, existing, err := db.Create(ctx, "a", []byte(`{"r":1}`), []byte(`{"n":1}`), m, [][]byte{[]byte(`"e1"`)})
	if err != nil || !created || existing != nil {
		t.Fatalf("first create: created=%v existing=%v err=%v", created, existing, err)
	}
	if got := entries(t, db, "a"); !slices.Equal(got, []string{"due", "state:pending"}) {
		t.Fatalf("entries after create: %v", got)
	}
	// An index entry lost (an old worker's crash, a hand-made edit), and
	// one in the index of every record older workers kept: the same
	// create again returns the record, puts the entry back and drops the
	// other.
	if err := db.c.ZRem(ctx, stateKey(ShardOf("a"), "pending"), "a").Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.c.ZAdd(ctx, indexKey(ShardOf("a"), idxAll), redis.Z{Score: float64(t0.UnixMilli()), Member: "a"}).Err(); err != nil {
		t.Fatal(err)
	}
	created, existing, err = db.Create(ctx, "a", []byte(`{"r":2}`), []byte(`{"n":2}`), m, nil)
	if err != nil || created || existing == nil || string(existing.Doc) != `{"n":1}` || existing.Version != 1 {
		t.Fatalf("second create: created=%v existing=%+v err=%v", created, existing, err)
	}
	if got := entries(t, db, "a"); !slices.Equal(got, []string{"due", "state:pending"}) {
		t.Fatalf("entries after the repeated create: %v", got)
	}
}

func TestPutMovesIndexEntriesWithTheRecord(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	due := t0.Add(time.Minute)
	if _, _, err := db.Create(ctx, "a", []byte(`{}`), []byte(`1`), Meta{State: "pending", Created: t0, Due: due}, nil); err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		meta    Meta
		want    []string
		wantDue time.Time
	}{
		{"running keeps its due", Meta{State: "running", Created: t0, KeepDue: true}, []string{"due", "state:running"}, due},
		{"owes a cleanup", Meta{State: "running", Created: t0, KeepDue: true, Cleanup: t0}, []string{"due", "cleanup", "state:running"}, due},
		{"failed, owing cleanup and webhook", Meta{State: "failed", Created: t0, Cleanup: t0, Notify: t0}, []string{"cleanup", "notify", "state:failed"}, time.Time{}},
		{"owes nothing", Meta{State: "failed", Created: t0, Done: t0.Add(time.Hour)}, []string{"state:failed", "finished"}, time.Time{}},
	}
	for i, s := range steps {
		if err := db.Put(ctx, "a", int64(i+1), []byte(`x`), s.meta, nil); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if got := entries(t, db, "a"); !slices.Equal(got, s.want) {
			t.Errorf("%s: entries %v, want %v", s.name, got, s.want)
		}
		score, err := db.c.ZScore(ctx, indexKey(ShardOf("a"), idxDue), "a").Result()
		if !s.wantDue.IsZero() && (err != nil || int64(score) != s.wantDue.UnixMilli()) {
			t.Errorf("%s: due %v (%v), want %s", s.name, score, err, s.wantDue)
		}
	}
	if err := db.Put(ctx, "a", 1, []byte(`3`), steps[0].meta, nil); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale version: err=%v, want ErrConflict", err)
	}
	if err := db.Put(ctx, "missing", 1, []byte(`3`), steps[0].meta, nil); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing record: err=%v, want ErrNotFound", err)
	}
}

func TestHistoryKeepsTheFirstAndTheLatestEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	m := Meta{State: "running", Created: t0, Due: t0}
	if _, _, err := db.Create(ctx, "a", []byte(`{}`), []byte(`{}`), m, [][]byte{[]byte(`0`)}); err != nil {
		t.Fatal(err)
	}
	m.Due, m.KeepDue = time.Time{}, true
	for i := 1; i < 100; i++ {
		if err := db.Put(ctx, "a", int64(i), []byte(`{}`), m, [][]byte{[]byte(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	e, err := db.GetFull(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, h := range e.History {
		got = append(got, string(h))
	}
	if len(got) != HistoryCap || !slices.Equal(got[:HistoryKeep], []string{"0", "1", "2", "3"}) || got[len(got)-1] != "99" {
		t.Fatalf("history %v", got)
	}
}

func TestExpireDeletesOnlyFinishedRecordsPastTheCutoff(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	cutoff := t0.Add(24 * time.Hour)
	ids := map[string]Meta{
		"old-done":    {State: "succeeded", Created: t0, Done: t0.Add(time.Hour)},
		"young-done":  {State: "succeeded", Created: t0, Done: cutoff.Add(time.Hour)},
		"old-running": {State: "running", Created: t0.Add(-time.Hour), Due: t0},
		"old-owing":   {State: "failed", Created: t0, Cleanup: t0},
	}
	for id, m := range ids {
		if _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{}`), m, [][]byte{[]byte(`e`)}); err != nil {
			t.Fatal(err)
		}
	}
	deleted := 0
	for shard := range Shards {
		n, _, err := db.Expire(ctx, shard, cutoff.Add(retention), cutoff, 10)
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
	}
	if deleted != 1 {
		t.Fatalf("deleted %d, want 1", deleted)
	}
	for id := range ids {
		_, err := db.Get(ctx, id)
		if gone := errors.Is(err, ErrNotFound); gone != (id == "old-done") {
			t.Errorf("%s: gone=%v", id, gone)
		}
	}
	if got := entries(t, db, "old-done"); len(got) != 0 {
		t.Errorf("entries left of a deleted record: %v", got)
	}
	if n, _ := db.c.Exists(ctx, historyKey("old-done")).Result(); n != 0 {
		t.Errorf("history of a deleted record left")
	}
}

// Retention reads the finished list from its head while the entries are
// past the cutoff: an entry whose record owed something again is passed
// over (the record's later entry counts), one behind a later entry (clock
// skew between workers) waits its turn, and an older worker's done index
// is still read.
func TestExpireReadsTheFinishedListInOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	cutoff := t0.Add(24 * time.Hour)
	done := func(h int) Meta {
		return Meta{State: "succeeded", Created: t0, Done: t0.Add(time.Duration(h) * time.Hour)}
	}
	create := func(id string, m Meta) {
		t.Helper()
		if _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{}`), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	// All in one shard, so one list holds them in this order.
	ids := map[string]string{}
	for i := 0; len(ids) < 5; i++ {
		id := fmt.Sprintf("r%d", i)
		if ShardOf(id) == 0 {
			ids[string(rune('a'+len(ids)))] = id
		}
	}
	create(ids["a"], done(1))
	create(ids["b"], done(2))
	create(ids["c"], done(25))
	create(ids["d"], done(3))
	create(ids["e"], done(1))
	// a owes a webhook again (a redelivery), then nothing from 30h on.
	if err := db.Put(ctx, ids["a"], 1, []byte(`{}`), Meta{State: "succeeded", Created: t0, Notify: t0.Add(29 * time.Hour)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, ids["a"], 2, []byte(`{}`), done(30), nil); err != nil {
		t.Fatal(err)
	}
	// e as an older worker left it: in the done index, not in the list.
	if err := db.c.LRem(ctx, finishedKey(0), 1, msString(t0.Add(time.Hour))+":"+ids["e"]).Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.c.ZAdd(ctx, indexKey(0, idxDone), redis.Z{Score: float64(t0.Add(time.Hour).UnixMilli()), Member: ids["e"]}).Err(); err != nil {
		t.Fatal(err)
	}
	left := func(cutoff time.Time, want ...string) {
		t.Helper()
		if _, _, err := db.Expire(ctx, 0, cutoff.Add(retention), cutoff, 10); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range []string{"a", "b", "c", "d", "e"} {
			if _, err := db.Get(ctx, ids[k]); err == nil {
				got = append(got, k)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("records left after expiring to %s: %v, want %v", cutoff.Sub(t0), got, want)
		}
	}
	left(cutoff, "a", "c", "d")
	left(t0.Add(26*time.Hour), "a")
	left(t0.Add(31 * time.Hour))
	assertRetentionEmpty(t, db, 0)
}

// assertRetentionEmpty checks that shard's finished list and done index
// hold nothing once every record expired.
func assertRetentionEmpty(t *testing.T, db *RDB, shard int) {
	t.Helper()
	ctx := context.Background()
	if n, err := db.c.LLen(ctx, finishedKey(shard)).Result(); err != nil || n != 0 {
		t.Errorf("finished list holds %d entries after everything expired (%v)", n, err)
	}
	if n, err := db.c.ZCard(ctx, indexKey(shard, idxDone)).Result(); err != nil || n != 0 {
		t.Errorf("done index holds %d entries after everything expired (%v)", n, err)
	}
}

// A worker whose clock is ahead dates its finished entries in the future.
// Such an entry at the head of the list would hold up retention of the
// whole shard for as long as the clock was ahead; past ClockSkew, the
// sweep moves it to the done index instead, read by time, and goes on.
func TestExpireIsNotHeldUpByAClockAhead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	now := t0.Add(30 * 24 * time.Hour)
	var ids []string
	for i := 0; len(ids) < 4; i++ {
		if id := fmt.Sprintf("r%d", i); ShardOf(id) == 3 {
			ids = append(ids, id)
		}
	}
	ahead, old, slightly, older := ids[0], ids[1], ids[2], ids[3]
	for _, c := range []struct {
		id   string
		done time.Time
	}{
		{ahead, now.Add(48 * time.Hour)}, // a clock two days fast
		{old, t0.Add(time.Hour)},         // done 29 days ago
		{slightly, now.Add(ClockSkew / 2)},
		{older, t0.Add(2 * time.Hour)},
	} {
		if _, _, err := db.Create(ctx, c.id, []byte(`{}`), []byte(`{}`), Meta{State: "succeeded", Created: t0, Done: c.done}, nil); err != nil {
			t.Fatal(err)
		}
	}
	left := func(now time.Time, want ...string) {
		t.Helper()
		if _, _, err := db.Expire(ctx, 3, now, now.Add(-retention), 10); err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, id := range ids {
			if _, err := db.Get(ctx, id); err == nil {
				got = append(got, id)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("records left after expiring at %s: %v, want %v", now.Sub(t0), got, want)
		}
	}
	// The entry two days ahead moves out of the way; one within ClockSkew
	// is waited for, and the one behind it with it, until it is due.
	left(now, ahead, slightly, older)
	if score, err := db.c.ZScore(ctx, indexKey(3, idxDone), ahead).Result(); err != nil || int64(score) != now.Add(48*time.Hour).UnixMilli() {
		t.Errorf("the entry from the clock ahead is in the done index at %v (%v), want its done time", score, err)
	}
	left(now.Add(ClockSkew/2+retention-time.Second), ahead, slightly, older)
	left(now.Add(ClockSkew/2+retention), ahead)
	left(now.Add(48*time.Hour + retention))
	assertRetentionEmpty(t, db, 3)
}

// A repair (or a create of a record that exists) moves an older worker's
// done entry to the finished list, once, and adds nothing for a record
// whose entry is there already.
func TestRepairMovesADoneEntryToTheFinishedList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	id := "r-old"
	done := t0.Add(time.Hour)
	m := Meta{State: "succeeded", Created: t0, Done: done}
	if _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{}`), m, nil); err != nil {
		t.Fatal(err)
	}
	entry := msString(done) + ":" + id
	count := func() int64 {
		t.Helper()
		list, err := db.c.LRange(ctx, finishedKey(ShardOf(id)), 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		return int64(len(slices.DeleteFunc(list, func(e string) bool { return e != entry })))
	}
	// As an older worker left it: a done entry, no list entry.
	if err := db.c.LRem(ctx, finishedKey(ShardOf(id)), 0, entry).Err(); err != nil {
		t.Fatal(err)
	}
	if err := db.c.ZAdd(ctx, indexKey(ShardOf(id), idxDone), redis.Z{Score: float64(done.UnixMilli()), Member: id}).Err(); err != nil {
		t.Fatal(err)
	}
	for i, repair := range []func() error{
		func() error { _, err := db.Repair(ctx, id); return err },
		func() error { _, err := db.Repair(ctx, id); return err },
		func() error { _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{}`), m, nil); return err },
	} {
		if err := repair(); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 1 {
			t.Errorf("after repair %d the finished list holds %d entries for the record, want 1", i+1, n)
		}
	}
	if n, _ := db.c.ZCard(ctx, indexKey(ShardOf(id), idxDone)).Result(); n != 0 {
		t.Errorf("the done index still holds %d entries", n)
	}
}

// Expire removes a record's index entries where its meta says they are,
// and no others: at a million records a batch that ZREMs every index of
// the shard for each record was a command of tens of milliseconds.
func TestExpireTouchesOnlyTheIndexesTheMetaNames(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		body Body
	}{
		{"in parts", Body{Req: []byte(`{}`), Doc: []byte(`{}`)}},
		{"packed", Body{Packed: []byte("packed bytes")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db, r := setup(t)
			r.Own(t) // counts the server's commands
			m := Meta{State: "succeeded", Created: t0, Done: t0.Add(time.Hour)}
			if _, _, err := db.CreateBody(ctx, "old", tc.body, m, [][]byte{[]byte(`e`)}); err != nil {
				t.Fatal(err)
			}
			before := zremCalls(t, r)
			n, _, err := db.Expire(ctx, ShardOf("old"), t0.Add(24*time.Hour+retention), t0.Add(24*time.Hour), 10)
			if err != nil || n != 1 {
				t.Fatalf("expire deleted %d (%v), want 1", n, err)
			}
			// done, all and state:succeeded.
			if got := zremCalls(t, r) - before; got != 3 {
				t.Errorf("%d ZREMs to expire one record, want 3", got)
			}
			if got := entries(t, db, "old"); len(got) != 0 {
				t.Errorf("entries left of a deleted record: %v", got)
			}
			if _, err := db.Get(ctx, "old"); !errors.Is(err, ErrNotFound) {
				t.Errorf("the record after expiry: %v", err)
			}
		})
	}
}

// zremCalls is how many ZREMs Redis ran so far, from scripts included.
func zremCalls(t *testing.T, r *redistest.Redis) int64 {
	t.Helper()
	info, err := r.Client.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_zrem:calls="); ok {
			v, _, _ := strings.Cut(rest, ",")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("commandstats: %s", line)
			}
			return n
		}
	}
	return 0
}

func TestListMergesTheShardsNewestFirst(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	const n = 57
	var want []string
	for i := range n {
		id := fmt.Sprintf("p%02d", i)
		m := Meta{State: "running", Created: t0.Add(time.Duration(i) * time.Second), Due: t0}
		if _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{}`), m, nil); err != nil {
			t.Fatal(err)
		}
		want = append([]string{id}, want...)
	}
	var got []string
	cursor := ""
	for {
		page, err := db.List(ctx, "running", cursor, 10)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.IDs...)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("listing %v\nwant %v", got, want)
	}
	if _, err := db.List(ctx, "", "not-a-cursor", 10); !errors.Is(err, ErrBadCursor) {
		t.Fatalf("bad cursor: %v", err)
	}
}

// A Redis that refuses an index command half way (here an ACL user
// without ZADD) must leave no record without its entries: the script
// writes the entries first and the record last, and Redis does not roll
// back, so the refusal leaves everything as it was.
func TestRefusedIndexWriteLeavesNoRecordBehind(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, r := setup(t)
	user := fmt.Sprintf("mf-nozadd-%d", time.Now().UnixNano())
	if err := r.Client.Do(ctx, "ACL", "SETUSER", user, "on", ">pw", "~*", "&*", "+@all", "-zadd").Err(); err != nil {
		t.Skipf("this Redis refuses ACL SETUSER: %v", err)
	}
	t.Cleanup(func() { r.Client.Do(context.Background(), "ACL", "DELUSER", user) })
	limited := redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB, Username: user, Password: "pw"})
	t.Cleanup(func() { limited.Close() })
	ldb := New(limited, states)

	m := Meta{State: "pending", Created: t0, Due: t0}
	if _, _, err := ldb.Create(ctx, "a", []byte(`{}`), []byte(`1`), m, [][]byte{[]byte(`e`)}); err == nil {
		t.Fatal("create without ZADD succeeded")
	}
	if _, err := db.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a refused create left a record: %v", err)
	}
	if got := entries(t, db, "a"); len(got) != 0 {
		t.Fatalf("a refused create left entries %v", got)
	}
	// Created for real, then a refused state change: record and entries
	// stay as they were.
	if _, _, err := db.Create(ctx, "a", []byte(`{}`), []byte(`1`), m, nil); err != nil {
		t.Fatal(err)
	}
	if err := ldb.Put(ctx, "a", 1, []byte(`2`), Meta{State: "running", Created: t0, KeepDue: true}, nil); err == nil {
		t.Fatal("put without ZADD succeeded")
	}
	if e, err := db.Get(ctx, "a"); err != nil || e.Version != 1 || string(e.Doc) != "1" {
		t.Fatalf("after a refused put: %+v %v", e, err)
	}
	if got := entries(t, db, "a"); !slices.Equal(got, []string{"due", "state:pending"}) {
		t.Fatalf("entries after a refused put: %v", got)
	}
}

package rdb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("pipeline record not found")
	ErrConflict = errors.New("pipeline record changed since it was read")
)

// History keeps a record's first HistoryKeep events (how it started) and
// its latest ones, HistoryCap in all, whatever happens to it.
const (
	HistoryCap  = 40
	HistoryKeep = 4
)

// RDB reads and writes pipeline records. It holds no state of its own and
// is safe for concurrent use.
type RDB struct {
	c      redis.UniversalClient
	states []string
	// shardKeys are each shard's index and state keys, in the order a
	// record script takes them (recordKeys): made once, read on every
	// write.
	shardKeys [Shards][]string
}

// New returns an RDB on c, which it shares and never closes. states names
// every state a record can be in; each has an index.
func New(c redis.UniversalClient, states []string) *RDB {
	r := &RDB{c: c, states: slices.Clone(states)}
	for shard := range r.shardKeys {
		for _, k := range indexKinds {
			r.shardKeys[shard] = append(r.shardKeys[shard], indexKey(shard, k))
		}
		for _, s := range r.states {
			r.shardKeys[shard] = append(r.shardKeys[shard], stateKey(shard, s))
		}
	}
	return r
}

// Client is the Redis client the RDB uses.
func (r *RDB) Client() redis.UniversalClient { return r.c }

// Entry is a stored record: the version that guards writes and either
// its parts (the request it was made for, written once; its mutable
// document; when asked for, its history, one JSON event per element,
// oldest first) or, for a packed record, Packed: all of them in one value
// (package tasks packs and unpacks it; scripts.go says when a record is
// in which form).
type Entry struct {
	ID      string
	Version int64
	Req     []byte
	Doc     []byte
	History [][]byte
	Packed  []byte
}

// Body is what a write stores of a record, in one of the forms of
// scripts.go: Packed alone (the record packed); Doc alone (a record in
// parts, from parts: the events are appended); or Req, Doc and History
// (a packed record laid out in parts again: History is its whole
// history, the events follow it).
type Body struct {
	Req, Doc []byte
	History  [][]byte
	Packed   []byte
	// Durable makes the write return only once a replica holds it, when
	// the node that takes it has replicas (durable.go).
	Durable bool
}

func (b Body) form() string {
	switch {
	case b.Packed != nil:
		return "p"
	case b.Req != nil:
		return "e"
	}
	return "d"
}

// Meta is what the indexes know of a record. A zero time means "not in
// that index".
type Meta struct {
	State   string
	Created time.Time
	// Due: for a record that is not finished, since when the sweep's
	// PENDING_KICK_AFTER counts (its creation, then the sweep's last look;
	// the sweep's setting, not the writer's, says how long after).
	Due time.Time
	// KeepDue leaves the due entry where it is (Due is then ignored).
	KeepDue bool
	// Cleanup and Notify: since when the record owes a cleanup, a
	// notification.
	Cleanup, Notify time.Time
	// Done: since when the record is finished and owes nothing, which
	// makes it a candidate for retention.
	Done time.Time
}

func (r *RDB) encodeMeta(m Meta) (string, error) {
	s := slices.Index(r.states, m.State)
	if s < 0 {
		return "", fmt.Errorf("unknown pipeline state %q", m.State)
	}
	if m.Created.IsZero() {
		return "", errors.New("record meta has no creation time")
	}
	b := make([]byte, 0, 72)
	b = strconv.AppendInt(b, int64(s+1), 10)
	for i, t := range [...]time.Time{m.Created, m.Due, m.Cleanup, m.Notify, m.Done} {
		b = append(b, '|')
		if i == 1 && m.KeepDue {
			b = append(b, 'k')
			continue
		}
		b = appendMs(b, t)
	}
	return string(b), nil
}

func msString(t time.Time) string { return string(appendMs(nil, t)) }

func appendMs(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(b, '0')
	}
	return strconv.AppendInt(b, max(t.UnixMilli(), 1), 10)
}

// recordKeys are a record script's KEYS (scripts.go).
func (r *RDB) recordKeys(id string) []string {
	shard := ShardOf(id)
	keys := make([]string, 0, 4+len(r.shardKeys[shard]))
	keys = append(keys, recordPrefix(shard)+id, historyPrefix(shard)+id)
	keys = append(keys, r.shardKeys[shard]...)
	return append(keys, packedPrefix(shard)+id, finishedKey(shard))
}

func recordArgs(id string, fixed []any, events [][]byte) []any {
	args := make([]any, 0, 1+len(fixed)+len(events))
	args = append(append(args, id), fixed...)
	for _, e := range events {
		args = append(args, e)
	}
	return args
}

// Create stores a new record with its index entries and first events,
// unless one with id exists: then it returns that one (created=false) and
// repairs its index entries, so a create that a crash interrupted and a
// client then retried leaves the record listed.
func (r *RDB) Create(ctx context.Context, id string, req, doc []byte, m Meta, events [][]byte) (created bool, existing *Entry, err error) {
	return r.CreateBody(ctx, id, Body{Req: req, Doc: doc}, m, events)
}

// CreateBody is Create of a record in either form: b.Req and b.Doc (in
// parts, with events), or b.Packed.
func (r *RDB) CreateBody(ctx context.Context, id string, b Body, m Meta, events [][]byte) (created bool, existing *Entry, err error) {
	args, err := r.createArgs(id, b, m, events)
	if err != nil {
		return false, nil, fmt.Errorf("create pipeline record %s: %w", id, err)
	}
	res, err := createScript.Run(ctx, r.c, r.recordKeys(id), args...).Slice()
	if err != nil {
		return false, nil, fmt.Errorf("create pipeline record %s: %w", id, err)
	}
	if n, _ := res[0].(int64); n == 1 {
		return true, nil, nil
	}
	if len(res) < 5 {
		return false, nil, fmt.Errorf("create pipeline record %s: short answer", id)
	}
	e, err := entryFrom(id, res[1], res[2], res[3], res[4])
	return false, e, err
}

func (r *RDB) createArgs(id string, b Body, m Meta, events [][]byte) ([]any, error) {
	meta, err := r.encodeMeta(m)
	if err != nil {
		return nil, err
	}
	if b.Packed != nil {
		return []any{id, "p", meta, HistoryKeep, HistoryCap, b.Packed}, nil
	}
	return recordArgs(id, []any{"d", meta, HistoryKeep, HistoryCap, b.Req, b.Doc}, events), nil
}

// Put replaces the record's document if it is still at version, moves its
// index entries to m and appends events, all at once. It returns
// ErrConflict when someone wrote first and ErrNotFound when the record is
// gone.
func (r *RDB) Put(ctx context.Context, id string, version int64, doc []byte, m Meta, events [][]byte) error {
	return r.PutBody(ctx, id, version, Body{Doc: doc}, m, events)
}

// PutBody is Put of a record in any form (Body): a record read packed at
// version is written with Req, Doc and History or packed again, one read
// in parts with Doc alone or packed.
func (r *RDB) PutBody(ctx context.Context, id string, version int64, b Body, m Meta, events [][]byte) error {
	meta, err := r.encodeMeta(m)
	if err != nil {
		return fmt.Errorf("write pipeline record %s: %w", id, err)
	}
	fixed := []any{strconv.FormatInt(version, 10), b.form(), meta, HistoryKeep, HistoryCap}
	switch b.form() {
	case "p":
		fixed, events = append(fixed, b.Packed), nil
	case "e":
		fixed = append(fixed, b.Req, b.Doc)
		for _, h := range b.History {
			fixed = append(fixed, h)
		}
	default:
		fixed = append(fixed, b.Doc)
	}
	keys, args := r.recordKeys(id), recordArgs(id, fixed, events)
	var n int
	if b.Durable {
		n, err = r.putDurable(ctx, keys, args)
	} else {
		n, err = putScript.Run(ctx, r.c, keys, args...).Int()
	}
	if err != nil {
		return fmt.Errorf("write pipeline record %s: %w", id, err)
	}
	switch n {
	case 0:
		return ErrConflict
	case -1:
		return ErrNotFound
	}
	return nil
}

// Get returns the record id without its history, or ErrNotFound: one
// round trip in either form (getScript).
func (r *RDB) Get(ctx context.Context, id string) (*Entry, error) {
	vals, err := getScript.Run(ctx, r.c, []string{recordKey(id), packedKey(id)}).Slice()
	if err != nil {
		return nil, fmt.Errorf("read pipeline record %s: %w", id, err)
	}
	if len(vals) != 4 {
		return nil, fmt.Errorf("read pipeline record %s: %d values", id, len(vals))
	}
	return entryFrom(id, vals[0], vals[1], vals[2], vals[3])
}

// getBoth reads either form of id in one transaction: a write that
// changes the form between two reads would otherwise hide the record.
func (r *RDB) getBoth(ctx context.Context, id string) (*Entry, error) {
	var rec *redis.SliceCmd
	var packed *redis.StringCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		rec = p.HMGet(ctx, recordKey(id), "v", "req", "doc")
		packed = p.Get(ctx, packedKey(id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read pipeline record %s: %w", id, err)
	}
	var pk any
	if v, err := packed.Result(); err == nil {
		pk = v
	}
	vals := rec.Val()
	return entryFrom(id, vals[0], vals[1], vals[2], pk)
}

// GetFull returns the record id with its history, or ErrNotFound.
func (r *RDB) GetFull(ctx context.Context, id string) (*Entry, error) {
	es, err := r.GetMany(ctx, []string{id}, true)
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return es[0], nil
}

// History returns the history of a record in parts (nothing for a packed
// one, whose history is inside it).
func (r *RDB) History(ctx context.Context, id string) ([][]byte, error) {
	hs, err := r.c.LRange(ctx, historyKey(id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the history of pipeline %s: %w", id, err)
	}
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = []byte(h)
	}
	return out, nil
}

// GetMany returns the records of ids (with their history when asked) in
// one round trip per Redis node, skipping those that no longer exist.
// Either form is read in the same round trip.
func (r *RDB) GetMany(ctx context.Context, ids []string, history bool) ([]*Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if history {
		return r.getManyFull(ctx, ids)
	}
	recs := make([]*redis.SliceCmd, len(ids))
	packed := make([]*redis.StringCmd, len(ids))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			recs[i] = p.HMGet(ctx, recordKey(id), "v", "req", "doc")
			packed[i] = p.Get(ctx, packedKey(id))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read %d pipeline records: %w", len(ids), err)
	}
	out := make([]*Entry, 0, len(ids))
	for i, cmd := range recs {
		if err := cmd.Err(); err != nil {
			return nil, fmt.Errorf("read pipeline record %s: %w", ids[i], err)
		}
		vals := cmd.Val()
		var pk any
		if v, err := packed[i].Result(); err == nil {
			pk = v
		} else if !errors.Is(err, redis.Nil) {
			return nil, fmt.Errorf("read pipeline record %s: %w", ids[i], err)
		}
		e, err := entryFrom(ids[i], vals[0], vals[1], vals[2], pk)
		if errors.Is(err, ErrNotFound) {
			// Gone, or its form changed between the two reads.
			if e, err = r.getBoth(ctx, ids[i]); errors.Is(err, ErrNotFound) {
				continue
			}
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// getManyFull is GetMany with the history: one getFullScript call per
// record (each in its record's slot), all in one pipelined round, so a
// write changing a record's form cannot run between the reads of its
// parts and its history.
func (r *RDB) getManyFull(ctx context.Context, ids []string) ([]*Entry, error) {
	cmds := make([]*redis.Cmd, len(ids))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = getFullScript.Eval(ctx, p, []string{recordKey(id), packedKey(id), historyKey(id)})
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read %d pipeline records: %w", len(ids), err)
	}
	out := make([]*Entry, 0, len(ids))
	for i, cmd := range cmds {
		vals, err := cmd.Slice()
		if err != nil {
			return nil, fmt.Errorf("read pipeline record %s: %w", ids[i], err)
		}
		if len(vals) != 5 {
			return nil, fmt.Errorf("read pipeline record %s: %d values", ids[i], len(vals))
		}
		e, err := entryFrom(ids[i], vals[0], vals[1], vals[2], vals[3])
		if errors.Is(err, ErrNotFound) {
			continue // gone
		}
		if err != nil {
			return nil, err
		}
		if e.Packed == nil {
			hist, _ := vals[4].([]any)
			for _, h := range hist {
				s, _ := h.(string)
				e.History = append(e.History, []byte(s))
			}
		}
		out = append(out, e)
	}
	return out, nil
}

// SetDue moves a record's due entry, later or earlier (the sweep, finding
// it waiting; other writes keep it). It does nothing for a finished record
// and drops the entry of one that is gone.
func (r *RDB) SetDue(ctx context.Context, id string, due time.Time) error {
	if err := setDueScript.Run(ctx, r.c, r.recordKeys(id), id, msString(due)).Err(); err != nil {
		return fmt.Errorf("move pipeline %s in the due index: %w", id, err)
	}
	return nil
}

// Repair makes id's index entries what its record says, or removes them
// when the record is gone. It reports whether the record exists.
func (r *RDB) Repair(ctx context.Context, id string) (bool, error) {
	n, err := repairScript.Run(ctx, r.c, r.recordKeys(id), id).Int()
	if err != nil {
		return false, fmt.Errorf("repair the index entries of pipeline %s: %w", id, err)
	}
	return n == 1, nil
}

// ClockSkew is how far ahead of the sweeper's clock a worker's may be
// before Expire stops waiting for the records it finished (expireScript).
const ClockSkew = time.Minute

// Expire deletes up to limit records of shard that have been finished and
// owing nothing since cutoff or before, with their history and index
// entries; now is the clock cutoff was taken from. It returns how many it
// deleted and how many entries it looked at (fewer than limit: nothing
// more is due in that shard).
func (r *RDB) Expire(ctx context.Context, shard int, now, cutoff time.Time, limit int) (deleted, looked int, err error) {
	keys := []string{indexKey(shard, idxDone)}
	for _, k := range indexKinds {
		if k != idxDone {
			keys = append(keys, indexKey(shard, k))
		}
	}
	for _, s := range r.states {
		keys = append(keys, stateKey(shard, s))
	}
	keys = append(keys, finishedKey(shard))
	res, err := expireScript.Run(ctx, r.c, keys, msString(cutoff), limit, recordPrefix(shard), historyPrefix(shard), packedPrefix(shard), msString(now.Add(ClockSkew))).Int64Slice()
	if err != nil || len(res) != 2 {
		return 0, 0, fmt.Errorf("expire records of shard %d: %w", shard, err)
	}
	return int(res[0]), int(res[1]), nil
}

// Due returns up to limit ids of shard's records whose due entry is at or
// before until (the sweep passes now - PENDING_KICK_AFTER), oldest first.
func (r *RDB) Due(ctx context.Context, shard int, until time.Time, limit int) ([]string, error) {
	return r.rangeByScore(ctx, indexKey(shard, idxDue), until, limit)
}

// OwedCursor is where a walk of an owed index (CleanupOwed, NotifyOwed)
// goes on; the zero value starts at its oldest entry. The entries of those
// indexes do not move while a record owes (their score is since when), so
// a reader of only the oldest batch would never reach a record behind a
// batch of records whose tasks are alive: the sweep walks the whole index.
type OwedCursor struct {
	started bool
	score   float64
	// skip: entries at score already read (members of one score are
	// ordered, so they are the first ones at it).
	skip int64
}

// CleanupOwed returns up to limit ids of shard's records owing a cleanup
// since before until, oldest first, after cur, which it moves past them.
func (r *RDB) CleanupOwed(ctx context.Context, shard int, until time.Time, cur *OwedCursor, limit int) ([]string, error) {
	return r.walkOwed(ctx, indexKey(shard, idxCleanup), until, cur, limit)
}

// NotifyOwed returns up to limit ids of shard's records owing a
// notification since before until, oldest first, after cur, which it
// moves past them.
func (r *RDB) NotifyOwed(ctx context.Context, shard int, until time.Time, cur *OwedCursor, limit int) ([]string, error) {
	return r.walkOwed(ctx, indexKey(shard, idxNotify), until, cur, limit)
}

// walkOwed reads from the cursor's score on, past the entries at it
// already read: O(log N + limit + those), never an offset from the
// index's start.
func (r *RDB) walkOwed(ctx context.Context, key string, until time.Time, cur *OwedCursor, limit int) ([]string, error) {
	a := redis.ZRangeArgs{Key: key, Start: "-inf", Stop: strconv.FormatInt(until.UnixMilli(), 10), ByScore: true, Count: int64(limit)}
	if cur.started {
		a.Start, a.Offset = strconv.FormatFloat(cur.score, 'f', -1, 64), cur.skip
	}
	zs, err := r.c.ZRangeArgsWithScores(ctx, a).Result()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", key, err)
	}
	ids := make([]string, len(zs))
	for i, z := range zs {
		ids[i], _ = z.Member.(string)
		if cur.started && z.Score == cur.score {
			cur.skip++
		} else {
			cur.started, cur.score, cur.skip = true, z.Score, 1
		}
	}
	return ids, nil
}

func (r *RDB) rangeByScore(ctx context.Context, key string, until time.Time, limit int) ([]string, error) {
	ids, err := r.c.ZRangeArgs(ctx, redis.ZRangeArgs{
		Key: key, Start: "-inf", Stop: strconv.FormatInt(until.UnixMilli(), 10),
		ByScore: true, Count: int64(limit),
	}).Result()
	if err != nil {
		return nil, fmt.Errorf("read index %s: %w", key, err)
	}
	return ids, nil
}

// Counts is what the metrics gauges show.
type Counts struct {
	ByState     map[string]int64
	Overdue     int64
	CleanupOwed int64
	NotifyOwed  int64
}

// Count reads the size of every index in one round trip per node.
// Overdue counts the due entries at or before dueBy (now -
// PENDING_KICK_AFTER).
func (r *RDB) Count(ctx context.Context, dueBy time.Time) (Counts, error) {
	type shardCmds struct {
		states                   []*redis.IntCmd
		overdue, cleanup, notify *redis.IntCmd
	}
	cmds := make([]shardCmds, Shards)
	dueMS := strconv.FormatInt(dueBy.UnixMilli(), 10)
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range Shards {
			c := &cmds[shard]
			for _, s := range r.states {
				c.states = append(c.states, p.ZCard(ctx, stateKey(shard, s)))
			}
			c.overdue = p.ZCount(ctx, indexKey(shard, idxDue), "-inf", dueMS)
			c.cleanup = p.ZCard(ctx, indexKey(shard, idxCleanup))
			c.notify = p.ZCard(ctx, indexKey(shard, idxNotify))
		}
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("count pipelines: %w", err)
	}
	c := Counts{ByState: make(map[string]int64, len(r.states))}
	for _, sc := range cmds {
		for i, s := range r.states {
			c.ByState[s] += sc.states[i].Val()
		}
		c.Overdue += sc.overdue.Val()
		c.CleanupOwed += sc.cleanup.Val()
		c.NotifyOwed += sc.notify.Val()
	}
	return c, nil
}

// Ping runs a record script against a key no record uses: it proves the
// scripts can run where the records live (readiness), not only that Redis
// answers.
func (r *RDB) Ping(ctx context.Context) error {
	id := "readiness-probe"
	if err := setDueScript.Run(ctx, r.c, r.recordKeys(id), id, "0").Err(); err != nil {
		return fmt.Errorf("run a record script: %w", err)
	}
	return nil
}

// entryFrom makes an entry of a record's parts (v, req, doc) or, when
// there is one, of its packed value ("<v> <meta>\n<packed>").
func entryFrom(id string, v, req, doc, packed any) (*Entry, error) {
	if ps, ok := packed.(string); ok {
		head, body, ok := strings.Cut(ps, "\n")
		vs, _, _ := strings.Cut(head, " ")
		n, err := strconv.ParseInt(vs, 10, 64)
		if !ok || err != nil {
			return nil, fmt.Errorf("pipeline record %s has a bad packed form", id)
		}
		return &Entry{ID: id, Version: n, Packed: []byte(body)}, nil
	}
	if doc == nil {
		return nil, ErrNotFound
	}
	vs, _ := v.(string)
	n, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("pipeline record %s has a bad version %q", id, vs)
	}
	rs, _ := req.(string)
	ds, _ := doc.(string)
	return &Entry{ID: id, Version: n, Req: []byte(rs), Doc: []byte(ds)}, nil
}

// Now is Redis's own time (TIME). Claims between workers are stamped and
// compared with it, never with a worker's clock, so that workers whose
// clocks disagree still agree on when a claim lapses. (On a cluster any
// node answers; their clocks are one service's, kept by NTP.)
func (r *RDB) Now(ctx context.Context) (time.Time, error) {
	t, err := r.c.Time(ctx).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("read Redis time: %w", err)
	}
	return t.UTC(), nil
}

// NewRecord is one record for CreateMany.
type NewRecord struct {
	ID     string
	Body   Body
	Meta   Meta
	Events [][]byte
}

// CreateMany stores records as CreateBody does, pipelined: one round trip
// per Redis node for the whole batch. It is for filling a Redis quickly
// (the scale benchmark); an existing record is left as it is.
func (r *RDB) CreateMany(ctx context.Context, recs []NewRecord) error {
	if err := createScript.Load(ctx, r.c).Err(); err != nil {
		return fmt.Errorf("load the create script: %w", err)
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, rec := range recs {
			args, err := r.createArgs(rec.ID, rec.Body, rec.Meta, rec.Events)
			if err != nil {
				return fmt.Errorf("create pipeline record %s: %w", rec.ID, err)
			}
			createScript.EvalSha(ctx, p, r.recordKeys(rec.ID), args...)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("create %d pipeline records: %w", len(recs), err)
	}
	return nil
}

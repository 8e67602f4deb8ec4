package rdb

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
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

// RDB reads and writes pipeline records. It holds no state of its own and
// is safe for concurrent use.
type RDB struct {
	c redis.UniversalClient
}

// New returns an RDB on c, which it shares and never closes.
func New(c redis.UniversalClient) *RDB { return &RDB{c: c} }

// Client is the Redis client the RDB uses.
func (r *RDB) Client() redis.UniversalClient { return r.c }

// Entry is a stored record: its JSON and the version that guards writes.
type Entry struct {
	ID      string
	Version int64
	Doc     []byte
}

// Meta is what the indexes know of a record. A zero Due or Cleanup means
// "not in that index".
type Meta struct {
	State   string
	Created time.Time
	Due     time.Time
	Cleanup time.Time
}

// Create stores a new record unless one with id exists, in which case it
// returns that one and created=false.
func (r *RDB) Create(ctx context.Context, id string, doc []byte, m Meta) (created bool, existing *Entry, err error) {
	res, err := createScript.Run(ctx, r.c, []string{recordKey(id)}, doc).Slice()
	if err != nil {
		return false, nil, fmt.Errorf("create pipeline record %s: %w", id, err)
	}
	if n, _ := res[0].(int64); n == 0 {
		e, err := entryFrom(id, res[1], res[2])
		if err != nil {
			return false, nil, err
		}
		return false, e, nil
	}
	if err := r.index(ctx, id, Meta{}, m); err != nil {
		return true, nil, err
	}
	return true, nil, nil
}

// Get returns the record id, or ErrNotFound.
func (r *RDB) Get(ctx context.Context, id string) (*Entry, error) {
	vals, err := r.c.HMGet(ctx, recordKey(id), "v", "doc").Result()
	if err != nil {
		return nil, fmt.Errorf("read pipeline record %s: %w", id, err)
	}
	return entryFrom(id, vals[0], vals[1])
}

// GetMany returns the records of ids in one round trip, skipping those that
// no longer exist.
func (r *RDB) GetMany(ctx context.Context, ids []string) ([]*Entry, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	cmds := make([]*redis.SliceCmd, len(ids))
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			cmds[i] = p.HMGet(ctx, recordKey(id), "v", "doc")
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %d pipeline records: %w", len(ids), err)
	}
	out := make([]*Entry, 0, len(ids))
	for i, cmd := range cmds {
		vals := cmd.Val()
		e, err := entryFrom(ids[i], vals[0], vals[1])
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Put replaces the record if it is still at version, then moves its index
// entries from old to m. It returns ErrConflict when someone wrote first and
// ErrNotFound when the record is gone.
func (r *RDB) Put(ctx context.Context, id string, version int64, doc []byte, old, m Meta) error {
	n, err := casScript.Run(ctx, r.c, []string{recordKey(id)}, strconv.FormatInt(version, 10), doc).Int()
	if err != nil {
		return fmt.Errorf("write pipeline record %s: %w", id, err)
	}
	switch n {
	case 0:
		return ErrConflict
	case -1:
		return ErrNotFound
	}
	return r.index(ctx, id, old, m)
}

// Delete removes the record and its index entries.
func (r *RDB) Delete(ctx context.Context, id string, m Meta) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, recordKey(id))
		p.ZRem(ctx, allKey, id)
		p.ZRem(ctx, stateKey(m.State), id)
		p.ZRem(ctx, dueKey, id)
		p.ZRem(ctx, cleanupKey, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete pipeline record %s: %w", id, err)
	}
	return nil
}

// Forget removes id from every index, for entries whose record is gone.
func (r *RDB) Forget(ctx context.Context, id string, states []string) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.ZRem(ctx, allKey, id)
		for _, s := range states {
			p.ZRem(ctx, stateKey(s), id)
		}
		p.ZRem(ctx, dueKey, id)
		p.ZRem(ctx, cleanupKey, id)
		return nil
	})
	if err != nil {
		return fmt.Errorf("forget pipeline %s in the indexes: %w", id, err)
	}
	return nil
}

// Reindex writes m's index entries for id as they should be, whatever they
// were: the repair for entries a crash left behind.
func (r *RDB) Reindex(ctx context.Context, id string, states []string, m Meta) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range states {
			if s != m.State {
				p.ZRem(ctx, stateKey(s), id)
			}
		}
		p.ZAdd(ctx, stateKey(m.State), redis.Z{Score: ms(m.Created), Member: id})
		p.ZAdd(ctx, allKey, redis.Z{Score: ms(m.Created), Member: id})
		if m.Due.IsZero() {
			p.ZRem(ctx, dueKey, id)
		} else {
			p.ZAdd(ctx, dueKey, redis.Z{Score: ms(m.Due), Member: id})
		}
		if m.Cleanup.IsZero() {
			p.ZRem(ctx, cleanupKey, id)
		} else {
			p.ZAdd(ctx, cleanupKey, redis.Z{Score: ms(m.Cleanup), Member: id})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("reindex pipeline record %s: %w", id, err)
	}
	return nil
}

// index moves id's entries from old to m, sending only the commands that
// change something: most writes change no index at all.
func (r *RDB) index(ctx context.Context, id string, old, m Meta) error {
	type op func(redis.Pipeliner)
	var ops []op
	if old.Created.IsZero() {
		ops = append(ops, func(p redis.Pipeliner) { p.ZAdd(ctx, allKey, redis.Z{Score: ms(m.Created), Member: id}) })
	}
	if old.State != m.State {
		if old.State != "" {
			ops = append(ops, func(p redis.Pipeliner) { p.ZRem(ctx, stateKey(old.State), id) })
		}
		ops = append(ops, func(p redis.Pipeliner) {
			p.ZAdd(ctx, stateKey(m.State), redis.Z{Score: ms(m.Created), Member: id})
		})
	}
	switch {
	case m.Due.IsZero() && !old.Due.IsZero():
		ops = append(ops, func(p redis.Pipeliner) { p.ZRem(ctx, dueKey, id) })
	case !m.Due.IsZero() && !m.Due.Equal(old.Due):
		ops = append(ops, func(p redis.Pipeliner) { p.ZAdd(ctx, dueKey, redis.Z{Score: ms(m.Due), Member: id}) })
	}
	switch {
	case m.Cleanup.IsZero() && !old.Cleanup.IsZero():
		ops = append(ops, func(p redis.Pipeliner) { p.ZRem(ctx, cleanupKey, id) })
	case !m.Cleanup.IsZero() && !m.Cleanup.Equal(old.Cleanup):
		ops = append(ops, func(p redis.Pipeliner) {
			p.ZAdd(ctx, cleanupKey, redis.Z{Score: ms(m.Cleanup), Member: id})
		})
	}
	if len(ops) == 0 {
		return nil
	}
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, o := range ops {
			o(p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("index pipeline record %s: %w", id, err)
	}
	return nil
}

// Due returns up to limit ids of records due by until, oldest due first.
func (r *RDB) Due(ctx context.Context, until time.Time, limit int) ([]string, error) {
	return r.rangeByScore(ctx, dueKey, until, limit)
}

// CleanupOwed returns up to limit ids of records owing a cleanup since
// before until, oldest first.
func (r *RDB) CleanupOwed(ctx context.Context, until time.Time, limit int) ([]string, error) {
	return r.rangeByScore(ctx, cleanupKey, until, limit)
}

// CreatedBefore returns up to limit ids of records created before t, in
// state (or any state when state is ""), oldest first.
func (r *RDB) CreatedBefore(ctx context.Context, state string, t time.Time, limit int) ([]string, error) {
	key := allKey
	if state != "" {
		key = stateKey(state)
	}
	return r.rangeByScore(ctx, key, t, limit)
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

// SetDue moves id's place in the due index (the sweep's lazy refresh).
func (r *RDB) SetDue(ctx context.Context, id string, due time.Time) error {
	if err := r.c.ZAddXX(ctx, dueKey, redis.Z{Score: ms(due), Member: id}).Err(); err != nil {
		return fmt.Errorf("move pipeline %s in the due index: %w", id, err)
	}
	return nil
}

// Page is one page of a listing.
type Page struct {
	IDs []string
	// Next is the cursor of the following page, "" on the last one.
	Next string
}

// List returns up to limit ids, newest first, in state (every state when
// state is ""), after cursor (from a previous Page.Next; "" for the first
// page). Records created in the same millisecond keep a stable order, so
// pages neither repeat nor skip while records are added.
func (r *RDB) List(ctx context.Context, state, cursor string, limit int) (Page, error) {
	key := allKey
	if state != "" {
		key = stateKey(state)
	}
	top := "+inf"
	var afterScore int64
	var afterID string
	if cursor != "" {
		var err error
		afterScore, afterID, err = decodeCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		top = strconv.FormatInt(afterScore, 10)
	}
	// Collect one entry more than the page holds to know whether a next
	// page exists. Entries sharing the cursor's score come back too and
	// are skipped here.
	var ids []string
	var scores []int64
	for offset := int64(0); len(ids) <= limit; {
		batch := int64(limit + 1)
		zs, err := r.c.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: key, Start: top, Stop: "-inf", ByScore: true, Rev: true, Offset: offset, Count: batch,
		}).Result()
		if err != nil {
			return Page{}, fmt.Errorf("list pipelines: %w", err)
		}
		for _, z := range zs {
			id, score := z.Member.(string), int64(z.Score)
			if cursor != "" && score == afterScore && id >= afterID {
				continue
			}
			ids, scores = append(ids, id), append(scores, score)
		}
		if int64(len(zs)) < batch {
			break
		}
		offset += int64(len(zs))
	}
	if len(ids) <= limit {
		return Page{IDs: ids}, nil
	}
	return Page{IDs: ids[:limit], Next: encodeCursor(scores[limit-1], ids[limit-1])}, nil
}

// Counts is what the metrics gauges show.
type Counts struct {
	ByState     map[string]int64
	Overdue     int64
	CleanupOwed int64
}

// Count reads the size of every index in one round trip.
func (r *RDB) Count(ctx context.Context, states []string, now time.Time) (Counts, error) {
	byState := make([]*redis.IntCmd, len(states))
	var overdue, cleanup *redis.IntCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, s := range states {
			byState[i] = p.ZCard(ctx, stateKey(s))
		}
		overdue = p.ZCount(ctx, dueKey, "-inf", strconv.FormatInt(now.UnixMilli(), 10))
		cleanup = p.ZCard(ctx, cleanupKey)
		return nil
	})
	if err != nil {
		return Counts{}, fmt.Errorf("count pipelines: %w", err)
	}
	c := Counts{ByState: make(map[string]int64, len(states)), Overdue: overdue.Val(), CleanupOwed: cleanup.Val()}
	for i, s := range states {
		c.ByState[s] = byState[i].Val()
	}
	return c, nil
}

// ClaimSweep claims a sweep slot for holder; false means another worker
// holds it. The claim outlives the slot so a late duplicate still loses.
func (r *RDB) ClaimSweep(ctx context.Context, slot, holder string, ttl time.Duration) (bool, error) {
	ok, err := r.c.SetNX(ctx, sweepSlotKey(slot), holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("claim sweep slot %s: %w", slot, err)
	}
	return ok, nil
}

// SweepHolder returns who claimed slot, or "".
func (r *RDB) SweepHolder(ctx context.Context, slot string) (string, error) {
	v, err := r.c.Get(ctx, sweepSlotKey(slot)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// RecordSweep keeps the JSON result of a sweep among the last keep ones.
func (r *RDB) RecordSweep(ctx context.Context, result []byte, keep int64) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, sweepsKey, result)
		p.LTrim(ctx, sweepsKey, 0, keep-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record sweep result: %w", err)
	}
	return nil
}

// Sweeps returns the recorded sweep results, newest first.
func (r *RDB) Sweeps(ctx context.Context) ([]string, error) {
	return r.c.LRange(ctx, sweepsKey, 0, -1).Result()
}

func entryFrom(id string, v, doc any) (*Entry, error) {
	if v == nil || doc == nil {
		return nil, ErrNotFound
	}
	vs, _ := v.(string)
	n, err := strconv.ParseInt(vs, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("pipeline record %s has a bad version %q", id, vs)
	}
	ds, _ := doc.(string)
	return &Entry{ID: id, Version: n, Doc: []byte(ds)}, nil
}

func ms(t time.Time) float64 { return float64(t.UnixMilli()) }

func encodeCursor(score int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(score, 10) + ":" + id))
}

// ErrBadCursor is returned for a cursor List did not make.
var ErrBadCursor = errors.New("bad cursor")

func decodeCursor(c string) (int64, string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	s, id, ok := strings.Cut(string(raw), ":")
	if !ok || id == "" {
		return 0, "", ErrBadCursor
	}
	score, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, "", ErrBadCursor
	}
	return score, id, nil
}

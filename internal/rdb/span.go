package rdb

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Span selects index entries for a filtered listing (the pipelines page):
// records in any of States (every state when empty) created in
// [Since, Until) (a zero bound is open). Both are what the indexes hold,
// so a span is read and counted without reading a record.
type Span struct {
	States       []string
	Since, Until time.Time
}

// Listed is one index entry: a record's id and the cursor that names its
// place (a List cursor: what comes after it is older).
type Listed struct {
	ID     string
	Cursor string
}

// spanKeys are the index keys of s in one shard: its states' indexes, or
// every state's. A state named twice is one key: a ZUNION or a count over
// the same index twice would give each of its entries twice.
func (r *RDB) spanKeys(s Span, shard int) []string {
	states := s.States
	if len(states) == 0 {
		states = r.states
	}
	out := make([]string, 0, len(states))
	for i, st := range states {
		if !slices.Contains(states[:i], st) {
			out = append(out, stateKey(shard, st))
		}
	}
	return out
}

// bounds are the span's score bounds, inclusive, in ms.
func (s Span) bounds() (lo, hi int64) {
	lo, hi = 0, 1<<62
	if !s.Since.IsZero() {
		lo = max(s.Since.UnixMilli(), 0)
	}
	if !s.Until.IsZero() {
		hi = s.Until.UnixMilli() - 1
	}
	return lo, hi
}

// Scan returns up to limit entries of the span, newest first, that are
// older than cursor ("" for the newest) or, when back, newer than it (the
// limit entries just newer, still newest first). more says whether the
// span holds further entries in the direction read. Each shard and key
// gives at most limit+1 entries per round (more when ties at the cursor's
// millisecond must be passed), in one pipelined round for all of them.
func (r *RDB) Scan(ctx context.Context, s Span, cursor string, back bool, limit int) (out []Listed, more bool, err error) {
	if limit <= 0 {
		return nil, false, nil
	}
	lo, hi := s.bounds()
	at := listed{score: -1}
	if cursor != "" {
		if at.score, at.id, err = decodeCursor(cursor); err != nil {
			return nil, false, err
		}
		if back {
			lo = max(lo, at.score)
		} else {
			hi = min(hi, at.score)
		}
	}
	if lo > hi {
		return nil, false, nil
	}
	// past: an entry the cursor itself or something on its near side.
	past := func(e listed) bool {
		if cursor == "" || e.score != at.score {
			return false
		}
		if back {
			return e.id <= at.id
		}
		return e.id >= at.id
	}
	// Newest first unless back: ZRANGE … REV runs from the top bound down.
	start, stop, rev := strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10), "0"
	if !back {
		start, stop, rev = stop, start, "1"
	}
	args := func(key string, offset, count int64) redis.ZRangeArgs {
		return redis.ZRangeArgs{Key: key, ByScore: true, Rev: rev == "1", Offset: offset, Count: count, Start: start, Stop: stop}
	}
	batch := int64(limit + 1)
	type read struct {
		key string
		zs  []redis.Z
	}
	// One script call per shard reads its keys at once (scanScript): a
	// record moving between two state indexes is read in one of them,
	// never in both or neither. The calls of every shard go in one round.
	shardKeys := make([][]string, Shards)
	cmds := make([]*redis.Cmd, Shards)
	_, err = r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range Shards {
			shardKeys[shard] = r.spanKeys(s, shard)
			cmds[shard] = scanScript.Eval(ctx, p, shardKeys[shard], start, stop, rev, batch)
		}
		return nil
	})
	if err != nil {
		return nil, false, fmt.Errorf("scan pipelines: %w", err)
	}
	var reads []read
	for shard, cmd := range cmds {
		perKey, err := cmd.Slice()
		if err != nil {
			return nil, false, fmt.Errorf("scan pipelines: shard %d: %w", shard, err)
		}
		if len(perKey) != len(shardKeys[shard]) {
			return nil, false, fmt.Errorf("scan pipelines: shard %d answered for %d indexes, asked %d", shard, len(perKey), len(shardKeys[shard]))
		}
		for i, k := range shardKeys[shard] {
			zs, err := scoredMembers(perKey[i])
			if err != nil {
				return nil, false, fmt.Errorf("scan pipelines: %s: %w", k, err)
			}
			reads = append(reads, read{k, zs})
		}
	}
	seen := map[string]bool{}
	var all []listed
	keep := func(zs []redis.Z) int {
		n := 0
		for _, z := range zs {
			e := listed{id: z.Member.(string), score: int64(z.Score)}
			if past(e) || seen[e.id] {
				continue
			}
			seen[e.id] = true
			all = append(all, e)
			n++
		}
		return n
	}
	for _, rd := range reads {
		zs := rd.zs
		got := keep(zs)
		// A batch of ties at the cursor: read this key further.
		for offset := int64(len(zs)); got <= limit && int64(len(zs)) == batch; offset += int64(len(zs)) {
			zs, err = r.c.ZRangeArgsWithScores(ctx, args(rd.key, offset, batch)).Result()
			if err != nil {
				return nil, false, fmt.Errorf("scan pipelines: %w", err)
			}
			got += keep(zs)
		}
	}
	if back {
		slices.SortFunc(all, func(a, b listed) int { return newer(b, a) })
	} else {
		slices.SortFunc(all, newer)
	}
	if more = len(all) > limit; more {
		all = all[:limit]
	}
	if back {
		slices.Reverse(all)
	}
	out = make([]Listed, len(all))
	for i, e := range all {
		out[i] = Listed{ID: e.id, Cursor: encodeCursor(e.score, e.id)}
	}
	return out, more, nil
}

// CountSpan counts the span's entries; with newerThan (a cursor), only
// those newer than it: the position of a page. One pipelined round of
// ZCOUNTs, plus a read of the entries tied at the cursor's millisecond.
func (r *RDB) CountSpan(ctx context.Context, s Span, newerThan string) (int64, error) {
	lo, hi := s.bounds()
	tied := false
	at := listed{score: -1}
	if newerThan != "" {
		var err error
		if at.score, at.id, err = decodeCursor(newerThan); err != nil {
			return 0, err
		}
		// Entries at the cursor's own millisecond are newer only when
		// their id is greater: read those few apart.
		tied = at.score >= lo && at.score <= hi
		lo = max(lo, at.score+1)
	}
	var counts []*redis.IntCmd
	var ties []*redis.StringSliceCmd
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range Shards {
			for _, k := range r.spanKeys(s, shard) {
				if lo <= hi {
					counts = append(counts, p.ZCount(ctx, k, strconv.FormatInt(lo, 10), strconv.FormatInt(hi, 10)))
				}
				if tied {
					sc := strconv.FormatInt(at.score, 10)
					ties = append(ties, p.ZRangeByScore(ctx, k, &redis.ZRangeBy{Min: sc, Max: sc}))
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count pipelines: %w", err)
	}
	var n int64
	for _, c := range counts {
		n += c.Val()
	}
	for _, c := range ties {
		for _, id := range c.Val() {
			if id > at.id {
				n++
			}
		}
	}
	return n, nil
}

// scoredMembers reads one key's answer of scanScript: member, score,
// member, score…
func scoredMembers(v any) ([]redis.Z, error) {
	flat, ok := v.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, fmt.Errorf("unexpected answer %v", v)
	}
	out := make([]redis.Z, 0, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		m, _ := flat[i].(string)
		sc, _ := flat[i+1].(string)
		score, err := strconv.ParseFloat(sc, 64)
		if err != nil {
			return nil, fmt.Errorf("score %v of %s: %w", flat[i+1], m, err)
		}
		out = append(out, redis.Z{Member: m, Score: score})
	}
	return out, nil
}

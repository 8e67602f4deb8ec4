package rdb

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Page is one page of a listing.
type Page struct {
	IDs []string
	// Next is the cursor of the following page, "" on the last one.
	Next string
}

// ErrBadCursor is returned for a cursor List did not make.
var ErrBadCursor = errors.New("bad cursor")

type listed struct {
	id    string
	score int64
}

// newer orders entries newest first; records created in the same
// millisecond by id, descending, as ZRANGE … REV orders them.
func newer(a, b listed) int {
	if c := cmp.Compare(b.score, a.score); c != 0 {
		return c
	}
	return strings.Compare(b.id, a.id)
}

// List returns up to limit ids, newest first, in state (every state when
// state is ""), after cursor (from a previous Page.Next; "" for the first
// page). Each shard gives its newest entries after the cursor and the
// pages are merged, so pages neither repeat nor skip while records are
// added.
func (r *RDB) List(ctx context.Context, state, cursor string, limit int) (Page, error) {
	return r.ListRange(ctx, state, cursor, limit, time.Time{}, time.Time{})
}

// ListRange is List of the records created in [since, until] (a zero
// time leaves that end open).
func (r *RDB) ListRange(ctx context.Context, state, cursor string, limit int, since, until time.Time) (Page, error) {
	after := listed{score: -1}
	if !until.IsZero() {
		// The newest a page may hold, as if a cursor stood just after it.
		after = listed{score: max(until.UnixMilli(), 0), id: "\xff"}
	}
	bottom := "-inf"
	if !since.IsZero() {
		bottom = strconv.FormatInt(since.UnixMilli(), 10)
	}
	if cursor != "" {
		score, id, err := decodeCursor(cursor)
		if err != nil {
			return Page{}, err
		}
		if after.score < 0 || score < after.score || score == after.score && id < after.id {
			after = listed{score: score, id: id}
		}
	}
	haveAfter := after.score >= 0
	key := func(shard int) string {
		if state == "" {
			return indexKey(shard, idxAll)
		}
		return stateKey(shard, state)
	}
	// One pipelined round for every shard; a shard whose batch was all
	// ties at the cursor (rare) is read further on its own.
	batch := int64(limit + 1)
	cmds := make([]*redis.ZSliceCmd, Shards)
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for shard := range Shards {
			cmds[shard] = p.ZRangeArgsWithScores(ctx, r.pageArgs(key(shard), after, bottom, 0, batch))
		}
		return nil
	})
	if err != nil {
		return Page{}, fmt.Errorf("list pipelines: %w", err)
	}
	var all []listed
	for shard, cmd := range cmds {
		zs := cmd.Val()
		got := keepAfter(zs, after, haveAfter)
		for offset := int64(len(zs)); len(got) <= limit && int64(len(zs)) == batch; offset += int64(len(zs)) {
			zs, err = r.c.ZRangeArgsWithScores(ctx, r.pageArgs(key(shard), after, bottom, offset, batch)).Result()
			if err != nil {
				return Page{}, fmt.Errorf("list pipelines: %w", err)
			}
			got = append(got, keepAfter(zs, after, haveAfter)...)
		}
		all = append(all, got...)
	}
	slices.SortFunc(all, newer)
	if len(all) <= limit {
		return Page{IDs: ids(all)}, nil
	}
	last := all[limit-1]
	return Page{IDs: ids(all[:limit]), Next: encodeCursor(last.score, last.id)}, nil
}

func (r *RDB) pageArgs(key string, after listed, bottom string, offset, count int64) redis.ZRangeArgs {
	top := "+inf"
	if after.score >= 0 {
		top = strconv.FormatInt(after.score, 10)
	}
	return redis.ZRangeArgs{Key: key, Start: top, Stop: bottom, ByScore: true, Rev: true, Offset: offset, Count: count}
}

// keepAfter drops the entries that share the cursor's score and are not
// after it: the range starts at the cursor's score inclusive.
func keepAfter(zs []redis.Z, after listed, haveCursor bool) []listed {
	out := make([]listed, 0, len(zs))
	for _, z := range zs {
		e := listed{id: z.Member.(string), score: int64(z.Score)}
		if haveCursor && e.score == after.score && e.id >= after.id {
			continue
		}
		out = append(out, e)
	}
	return out
}

func ids(es []listed) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.id
	}
	return out
}

func encodeCursor(score int64, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(score, 10) + ":" + id))
}

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
	if err != nil || score < 0 {
		return 0, "", ErrBadCursor
	}
	return score, id, nil
}

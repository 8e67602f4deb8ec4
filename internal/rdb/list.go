package rdb

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
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
// time leaves that end open): a Scan of one state, or of every state's
// index (there is no index of every record: each would cost a sorted-set
// entry of ~140 bytes, issue 26).
func (r *RDB) ListRange(ctx context.Context, state, cursor string, limit int, since, until time.Time) (Page, error) {
	s := Span{Since: since}
	if state != "" {
		s.States = []string{state}
	}
	if !until.IsZero() {
		// Span's upper end is exclusive; until counts to its millisecond.
		s.Until = until.Add(time.Millisecond)
	}
	got, more, err := r.Scan(ctx, s, cursor, false, limit)
	if err != nil {
		return Page{}, err
	}
	p := Page{IDs: make([]string, len(got))}
	for i, l := range got {
		p.IDs[i] = l.ID
	}
	if more {
		p.Next = got[len(got)-1].Cursor
	}
	return p, nil
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

package rdb

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A span is walked forward and back page by page and counted, and every
// answer equals what a plain filter of all the entries says: several
// states merged across shards, a time range, and ties (entries created
// in the same millisecond) on page edges.
func TestScanWalksASpanBothWaysAndCountsIt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	type ent struct {
		id      string
		state   string
		created time.Time
	}
	var all []ent // newest first
	for i := range 70 {
		// Every fourth entry shares the millisecond of the one before.
		at := t0.Add(time.Duration(i-i/4) * time.Second)
		e := ent{id: fmt.Sprintf("p%03d", i), state: states[i%3], created: at}
		if _, _, err := db.Create(ctx, e.id, []byte(`{}`), []byte(`{}`), Meta{State: e.state, Created: at, Due: t0}, nil); err != nil {
			t.Fatal(err)
		}
		all = append([]ent{e}, all...)
	}
	slices.SortStableFunc(all, func(a, b ent) int {
		return newer(listed{a.id, a.created.UnixMilli()}, listed{b.id, b.created.UnixMilli()})
	})
	tests := []struct {
		name string
		span Span
	}{
		{"every state", Span{}},
		{"one state", Span{States: states[:1]}},
		{"two states", Span{States: states[:2]}},
		// A filter naming a state twice (state=failed&state=failed) is
		// that state once: each entry counted and listed once.
		{"a state named twice", Span{States: []string{states[1], states[0], states[1]}}},
		{"a time range", Span{States: states[1:3], Since: t0.Add(10 * time.Second), Until: t0.Add(40 * time.Second)}},
		{"nothing in range", Span{Since: t0.Add(time.Hour)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, e := range all {
				in := len(tt.span.States) == 0 || slices.Contains(tt.span.States, e.state)
				in = in && (tt.span.Since.IsZero() || !e.created.Before(tt.span.Since))
				in = in && (tt.span.Until.IsZero() || e.created.Before(tt.span.Until))
				if in {
					want = append(want, e.id)
				}
			}
			n, err := db.CountSpan(ctx, tt.span, "")
			if err != nil || n != int64(len(want)) {
				t.Fatalf("count %d, %v; want %d", n, err, len(want))
			}
			// Forward, 7 at a time.
			var got []Listed
			cursor := ""
			for {
				page, more, err := db.Scan(ctx, tt.span, cursor, false, 7)
				if err != nil {
					t.Fatal(err)
				}
				if len(page) > 0 {
					before, err := db.CountSpan(ctx, tt.span, page[0].Cursor)
					if err != nil || before != int64(len(got)) {
						t.Fatalf("position of a page %d, %v; want %d", before, err, len(got))
					}
				}
				got = append(got, page...)
				if !more {
					break
				}
				cursor = page[len(page)-1].Cursor
			}
			if ids := listedIDs(got); !slices.Equal(ids, want) {
				t.Fatalf("forward %v\nwant    %v", ids, want)
			}
			// Back from the oldest, 5 at a time, until the newest.
			if len(got) == 0 {
				return
			}
			back := []string{got[len(got)-1].ID}
			cursor = got[len(got)-1].Cursor
			for {
				page, more, err := db.Scan(ctx, tt.span, cursor, true, 5)
				if err != nil {
					t.Fatal(err)
				}
				back = append(listedIDs(page), back...)
				if !more {
					break
				}
				cursor = page[0].Cursor
			}
			if !slices.Equal(back, want) {
				t.Fatalf("back %v\nwant %v", back, want)
			}
		})
	}
	if _, _, err := db.Scan(ctx, Span{}, "not-a-cursor", true, 5); err != ErrBadCursor {
		t.Fatalf("bad cursor: %v", err)
	}
}

func listedIDs(ls []Listed) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.ID
	}
	return out
}

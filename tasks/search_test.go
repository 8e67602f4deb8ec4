package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Search filters by profile, label and text on the records it reads,
// pages both ways without repeating or skipping, counts the span and the
// page's place in it, and stops at its scan limit saying so.
func TestSearchFiltersRecordsAndPagesBothWays(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	var all []*Record // newest first
	order := map[string]int{}
	for i := range 24 {
		req := b.request(ActionDraft, "a.png")
		req.Key = fmt.Sprintf("search-%02d", i)
		req.Post.ProfileIDs = b.profiles[i%2 : i%2+1]
		if i%3 == 0 {
			req.Post.Labels = []string{"Spring"}
		}
		if i%4 == 0 {
			req.Post.Caption = fmt.Sprintf("The BIG sale %d", i)
		}
		r := b.publish(req)
		order[r.ID] = i
		all = append(all, r)
	}
	// The indexes order by creation, to the millisecond, then by id.
	slices.SortFunc(all, func(x, y *Record) int {
		if c := cmp.Compare(y.CreatedAt.UnixMilli(), x.CreatedAt.UnixMilli()); c != 0 {
			return c
		}
		return strings.Compare(y.ID, x.ID)
	})
	tests := []struct {
		name string
		o    SearchOptions
		keep func(int) bool // by publish order
	}{
		{"everything", SearchOptions{}, func(int) bool { return true }},
		{"a profile", SearchOptions{Profile: b.profiles[1]}, func(i int) bool { return i%2 == 1 }},
		{"a label by name, any case", SearchOptions{Label: "spring"}, func(i int) bool { return i%3 == 0 }},
		{"text in the caption", SearchOptions{Text: "big SALE"}, func(i int) bool { return i%4 == 0 }},
		{"text in the key", SearchOptions{Text: "search-1"}, func(i int) bool { return i >= 10 && i < 20 }},
		{"all of them", SearchOptions{Profile: b.profiles[0], Label: "Spring", Text: "sale"}, func(i int) bool { return i%12 == 0 }},
		{"a state none is in", SearchOptions{States: []State{StateFailed, StateRunning}}, func(int) bool { return false }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want []string
			for _, r := range all {
				if tt.keep(order[r.ID]) {
					want = append(want, r.ID)
				}
			}
			o := tt.o
			o.Limit = 3
			var got []string
			var pages []*SearchPage
			for {
				p, err := b.client.Search(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				if p.Total != int64(len(all)) && len(o.States) == 0 {
					t.Fatalf("total %d, want %d", p.Total, len(all))
				}
				if len(p.Records) > 0 && !tt.o.Filtered() && p.Before != int64(len(got)) {
					t.Fatalf("before %d, want %d", p.Before, len(got))
				}
				for _, r := range p.Records {
					got = append(got, r.ID)
				}
				pages = append(pages, p)
				if p.Next == "" {
					break
				}
				o.Cursor = p.Next
			}
			if !slices.Equal(got, want) {
				t.Fatalf("forward %v\nwant    %v", got, want)
			}
			if len(pages) < 2 {
				return
			}
			// Back from the last page's Prev to the newest.
			last := pages[len(pages)-1]
			if len(last.Records) == 0 {
				t.Fatal("a Next led to an empty page")
			}
			var back []string
			for _, r := range last.Records {
				back = append(back, r.ID)
			}
			o.Cursor, o.Back = last.Prev, true
			for o.Cursor != "" {
				p, err := b.client.Search(ctx, o)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, r := range p.Records {
					ids = append(ids, r.ID)
				}
				back = append(ids, back...)
				o.Cursor = p.Prev
			}
			if !slices.Equal(back, want) {
				t.Fatalf("back %v\nwant %v", back, want)
			}
		})
	}

	// A scan limit cuts a sparse search short: the page says so, and its
	// Next goes on from the last record read.
	p, err := b.client.Search(ctx, SearchOptions{Text: "search-00", Limit: 3, scanLimit: 5})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Partial || len(p.Records) != 0 || p.Scanned != 5 || p.Next == "" {
		t.Fatalf("a search past its scan limit: partial %v, %d records, scanned %d, next %q", p.Partial, len(p.Records), p.Scanned, p.Next)
	}
	for p.Next != "" && len(p.Records) == 0 {
		if p, err = b.client.Search(ctx, SearchOptions{Text: "search-00", Limit: 3, scanLimit: 5, Cursor: p.Next}); err != nil {
			t.Fatal(err)
		}
	}
	if len(p.Records) != 1 || p.Records[0].Key != "search-00" {
		t.Fatalf("going on found %d records", len(p.Records))
	}
	if _, err := b.client.Search(ctx, SearchOptions{States: []State{"bogus"}}); !errors.As(err, new(*ValidationError)) {
		t.Fatalf("unknown state: %v", err)
	}
	counts, err := b.client.CountStates(ctx)
	if err != nil || counts[StatePending] != int64(len(all)) || counts[StateFailed] != 0 {
		t.Fatalf("counts %v, %v", counts, err)
	}
}

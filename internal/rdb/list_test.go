package rdb

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// A time range keeps the records created in it, both ends inclusive, and
// pages through them like any listing; a cursor from before the range's
// end does not widen it.
func TestListRangeKeepsTheCreationTimesAsked(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _ := setup(t)
	for i := range 40 {
		id := fmt.Sprintf("p%02d", i)
		m := Meta{State: "succeeded", Created: t0.Add(time.Duration(i) * time.Minute), Done: t0}
		if _, _, err := db.Create(ctx, id, []byte(`{}`), []byte(`{}`), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := 29; i >= 10; i-- {
		want = append(want, fmt.Sprintf("p%02d", i))
	}
	since, until := t0.Add(10*time.Minute), t0.Add(29*time.Minute)
	for _, state := range []string{"succeeded", ""} {
		var got []string
		cursor := ""
		for {
			page, err := db.ListRange(ctx, state, cursor, 7, since, until)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, page.IDs...)
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("state %q: listing %v\nwant %v", state, got, want)
		}
	}
	page, err := db.ListRange(ctx, "failed", "", 7, since, until)
	if err != nil || len(page.IDs) != 0 {
		t.Fatalf("another state: %v %v", page, err)
	}
}

package rdb

import (
	"context"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/redistest"
)

// BenchmarkPut is one step's write of a record in parts: what a
// publication pays about nine times. Its allocations are what the Go side
// of a write costs; its time includes the round trip to Redis.
func BenchmarkPut(b *testing.B) {
	db := New(redistest.New(b).Client, states)
	ctx := context.Background()
	doc := []byte(`{"state":"running","step":"confirm","media":[{"source":"a.png","status":"uploaded"}],` + strings.Repeat(`"x":"y",`, 60) + `"in":{}}`)
	m := Meta{State: "running", Created: t0, Due: t0}
	if _, _, err := db.Create(ctx, "bench", []byte(`{"id":"bench"}`), doc, m, [][]byte{[]byte(`{"step":"accepted"}`)}); err != nil {
		b.Fatal(err)
	}
	event := [][]byte{[]byte(`{"step":"confirm","outcome":"ok"}`)}
	b.ReportAllocs()
	for v := int64(1); b.Loop(); v++ {
		if err := db.PutBody(ctx, "bench", v, Body{Doc: doc}, m, event); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecordKeys is the key list every record script takes.
func BenchmarkRecordKeys(b *testing.B) {
	db := New(nil, states)
	b.ReportAllocs()
	for b.Loop() {
		_ = db.recordKeys("01a2520f-7e4d-7dc2-be30-d9f4f26caa16")
	}
}

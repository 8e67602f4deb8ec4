package rdb

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"
)

// splitPipeline runs a pipeline's commands one at a time and calls
// between after the first n, as Redis may run another client's commands
// between those of a pipeline.
type splitPipeline struct {
	n       int
	between func()
}

func (h *splitPipeline) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (h *splitPipeline) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (h *splitPipeline) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if h.between == nil || len(cmds) <= h.n {
			return next(ctx, cmds)
		}
		err := next(ctx, cmds[:h.n])
		h.between()
		h.between = nil
		if err2 := next(ctx, cmds[h.n:]); err == nil {
			err = err2
		}
		return err
	}
}

// A record read with its history while a write packs it (the write that
// ends a pipeline, just as someone looks) is read whole, in one form or
// the other: GetMany read the record's hash, its packed value and its
// history list with three commands, between which the packing write
// could run, and answered the record in parts with no history at all
// (Client.Get, the API and the page showed a pipeline without events).
func TestGetManyReadsARecordBeingPackedWhole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, r := setup(t)
	m := Meta{State: "running", Created: t0, Due: t0}
	if _, _, err := db.Create(ctx, "a", []byte(`{}`), []byte(`{}`), m, [][]byte{[]byte(`"accepted"`), []byte(`"upload"`)}); err != nil {
		t.Fatal(err)
	}
	hook := &splitPipeline{n: 2}
	rc := redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB})
	t.Cleanup(func() { _ = rc.Close() })
	rc.AddHook(hook)
	reader := New(rc, states)
	hook.between = func() {
		done := Meta{State: "succeeded", Created: t0, Done: t0}
		if err := db.PutBody(ctx, "a", 1, Body{Packed: []byte("packed")}, done, nil); err != nil {
			t.Error(err)
		}
	}
	e, err := reader.GetFull(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if e.Packed == nil && len(e.History) != 2 {
		t.Fatalf("read in parts (version %d) with history %q; want its 2 events, or the packed record", e.Version, e.History)
	}
}

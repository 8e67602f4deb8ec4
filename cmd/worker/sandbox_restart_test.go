package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	buildinfo "github.com/mediaflow/mediaflow/internal/version"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// A worker -sandbox restarted over the same Redis gets an empty sandbox
// while Redis keeps the records of the first. No record may then name
// what the new sandbox made for another pipeline, and no cleanup may
// delete a draft's media.
//
// The order is fixed so that a sandbox handing out the same ids on every
// start would be caught on both counts: before the restart a scheduled
// pipeline is created first and a draft second; after it, a draft first
// and a scheduled one second, so the old scheduled pipeline's media id
// would be the new draft's. The old scheduled pipeline's next look (its
// watch, held in asynq's schedule by a publishAt an hour ahead) is
// released only once both new pipelines hold their media and posts.
func TestSandboxRestartKeepsPipelinesApart(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	root := t.TempDir()
	if err := writeSamples(root); err != nil {
		t.Fatal(err)
	}
	cfg, err := parseConfig([]string{"-sandbox", "-redis", r.URL, "-sweep", "off", "-media-root", root}, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	start := func(logs *logbuf.Buffer) *stack {
		t.Helper()
		st, err := startStack(ctx, cfg, r.Client, metrics.New(metrics.Options{Version: buildinfo.Number()}), zerolog.New(logs), demoTiming)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	publish := func(st *stack, action tasks.Action, source string) string {
		t.Helper()
		ok := st.sandbox.Profiles()[0].ID
		req := tasks.Request{Media: []tasks.MediaSource{{Source: source}}, Post: &tasks.PostSpec{ProfileIDs: []string{ok}, Caption: "restart " + string(action)}, Action: action}
		if action == tasks.ActionSchedule {
			at := time.Now().Add(time.Hour)
			req.Post.PublishAt = &at
		} else {
			req.Cleanup = tasks.CleanupNever
		}
		rec, _, err := st.client.Publish(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	// reach waits for the pipeline to reach a point the test names; the
	// steps themselves are quick (the sandbox processes in 2s), and a
	// pipeline that never gets there fails the test.
	reach := func(st *stack, id string, reached func(*tasks.Record) bool) (*tasks.Record, bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for {
			rec, err := st.client.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if reached(rec) || time.Now().After(deadline) {
				return rec, reached(rec)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	until := func(st *stack, id, what string, reached func(*tasks.Record) bool) {
		t.Helper()
		if rec, ok := reach(st, id, reached); !ok {
			t.Fatalf("pipeline %s never %s: %s", id, what, rec.Progress())
		}
	}
	staged := func(r *tasks.Record) bool { return r.State == tasks.StateRunning && r.Staged }
	over := func(r *tasks.Record) bool { return r.State.Terminal() && r.Cleanup != tasks.CleanupPending }

	var logsA, logsB logbuf.Buffer
	a := start(&logsA)
	oldScheduled := publish(a, tasks.ActionSchedule, "waves.jpg")
	until(a, oldScheduled, "staged", staged)
	oldDraft := publish(a, tasks.ActionDraft, "sunrise.jpg")
	until(a, oldDraft, "done", over)
	a.shutdown()

	b := start(&logsB)
	t.Cleanup(b.shutdown)
	if !strings.Contains(logsB.String(), "made against another Swonkie sandbox instance") {
		t.Errorf("the second start did not say that Redis holds records of another sandbox:\n%s", logsB.String())
	}
	newDraft := publish(b, tasks.ActionDraft, "checkers.png")
	until(b, newDraft, "done", over)
	newScheduled := publish(b, tasks.ActionSchedule, "sunrise.jpg")
	until(b, newScheduled, "staged", staged)

	// Release the watches held until publishAt: the old pipeline's looks
	// at its post (and the new one's finds it still scheduled).
	if n, err := asynq.NewInspectorFromRedisClient(r.Client).RunAllScheduledTasks(tasks.QueuePipeline); err != nil || n < 2 {
		t.Fatalf("released %d scheduled tasks (%v), want the watches of both scheduled pipelines", n, err)
	}
	// Its post lived in the first sandbox: it must fail as gone (and
	// delete its media, which this sandbox does not know), not watch
	// another pipeline's post.
	if old, done := reach(b, oldScheduled, over); old.State != tasks.StateFailed || !strings.Contains(old.Error.Message, "deleted outside mediaflow") {
		t.Errorf("the old scheduled pipeline is %s (%v), want failed as gone", old.Progress(), old.Error)
		if !done {
			// What its owner would do next: cancel it, which withdraws
			// its post and deletes its media, whoever they now belong to.
			if _, err := b.client.Cancel(ctx, oldScheduled); err != nil {
				t.Fatal(err)
			}
			reach(b, oldScheduled, over)
		}
	}

	owner := map[string]string{}
	for _, id := range []string{oldScheduled, oldDraft, newDraft, newScheduled} {
		rec, err := b.client.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for _, sid := range swonkieIDs(rec) {
			if other, seen := owner[sid]; seen && other != id {
				t.Errorf("Swonkie id %s is named by pipelines %s and %s", sid, other, id)
			}
			owner[sid] = id
		}
	}
	for _, c := range []struct {
		sb    *sandbox.Server
		draft string
	}{{a.sandbox, oldDraft}, {b.sandbox, newDraft}} {
		rec, _ := b.client.Get(ctx, c.draft)
		for _, m := range rec.Media {
			if info, ok := c.sb.Media(m.MediaID); !ok || info.State == sandbox.StateDeleted || info.State != string(swonkie.MediaSuccess) {
				t.Errorf("draft %s: its media %s is %+v (found %v) in its sandbox; a draft keeps its media", c.draft, m.MediaID, info, ok)
			}
		}
	}
	if rec, _ := b.client.Get(ctx, newScheduled); rec.State != tasks.StateRunning {
		t.Errorf("the new scheduled pipeline is %s, want still running until its publishAt", rec.Progress())
	}
}

// swonkieIDs are the media and post ids a record names.
func swonkieIDs(r *tasks.Record) []string {
	var ids []string
	for _, m := range r.Media {
		ids = append(ids, m.MediaID)
	}
	for _, m := range r.StaleMedia {
		ids = append(ids, m.MediaID)
	}
	ids = append(ids, r.PostID)
	out := ids[:0]
	for _, id := range ids {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

package tasks

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// A pipeline that ends owing nothing is packed (encoding.go): its record
// still reads the same through Client.Get, lists by state and by time,
// takes a redelivery of its webhook (laid out in parts again while it
// owes it, under the same webhook-id) and is packed again once delivered.
func TestPackedRecordReadsListsAndRedelivers(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t)
	ctx := context.Background()
	rcv := newReceiver(t)
	req := b.request(ActionPublishNow, "a.png")
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL + "/hooks", Events: []string{EventAttached}}
	early := b.wait(b.publish(req).ID)
	owesNothing := func(r *Record) bool {
		return r.Webhook != nil && len(r.owedNotices()) == 0 && r.Cleanup == CleanupDone
	}
	rec := b.waitRecord(early.ID, "the webhooks and the cleanup", owesNothing)
	waitUntil(t, func() bool {
		s, err := b.client.store.get(ctx, rec.ID)
		return err == nil && s.packed
	})
	if n := len(rcv.deliveries()); n != 2 {
		t.Fatalf("%d deliveries before the redelivery, want 2", n)
	}

	// Read: the whole record, history included, as it read in parts
	// (early: ended, its webhook still owed), but for what changed since
	// and for its times, cut to the millisecond (compact.go).
	got, err := b.client.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.CreatedAt.Equal(early.CreatedAt) && early.CreatedAt.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("packed record's creation time %s is not cut to the millisecond", got.CreatedAt.Format(time.RFC3339Nano))
	}
	early = cloneRecord(early)
	compactTimes(early)
	early.History = compactEvents(early.History)
	norm := func(r *Record) Record {
		c := *r
		c.Webhook, c.UpdatedAt, c.History, c.Attempts = nil, time.Time{}, nil, 0
		return c
	}
	ja, _ := json.Marshal(norm(early))
	jp, _ := json.Marshal(norm(got))
	if string(ja) != string(jp) || len(got.History) < len(early.History) || !reflect.DeepEqual(got.History[:len(early.History)], early.History) {
		t.Fatalf("packed record reads differently:\nin parts %s %s\npacked   %s %s", ja, dump(early), jp, dump(got))
	}

	// List: by state, and by a range of creation times around it.
	for _, o := range []ListOptions{
		{State: StateSucceeded},
		{},
		{State: StateSucceeded, Since: rec.CreatedAt.Add(-time.Second), Until: rec.CreatedAt.Add(time.Second)},
	} {
		page, err := b.client.List(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Records) != 1 || !reflect.DeepEqual(page.Records[0].History, got.History) || page.Records[0].PostID != got.PostID {
			t.Errorf("list %+v: %d records, want the packed one as it reads", o, len(page.Records))
		}
	}
	if page, err := b.client.List(ctx, ListOptions{Since: rec.CreatedAt.Add(time.Second)}); err != nil || len(page.Records) != 0 {
		t.Errorf("a range after it lists %v (%v)", page, err)
	}

	// Redeliver: the event goes again, under its webhook-id, and the
	// record is packed again once it owes nothing.
	if _, err := b.client.Redeliver(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return len(rcv.deliveries()) == 3 })
	last := rcv.deliveries()[2]
	if last.id != noticeID(rec.ID, EventSucceeded, 0) {
		t.Errorf("redelivery under webhook-id %s", last.id)
	}
	after := b.waitRecord(rec.ID, "the redelivery recorded", func(r *Record) bool {
		return owesNothing(r) && r.notice(EventSucceeded).Redeliveries == 1 && r.notice(EventSucceeded).Attempts == 2
	})
	waitUntil(t, func() bool {
		s, err := b.client.store.get(ctx, rec.ID)
		return err == nil && s.packed
	})
	if len(after.History) < len(rec.History) || !reflect.DeepEqual(after.History[:len(rec.History)], rec.History) {
		t.Errorf("history across the redelivery: before %d events, after %s", len(rec.History), dump(after))
	}
}

// The form follows the record's standing, whatever it was read in: a
// pending record is packed, a running one in parts, a finished one owing
// nothing packed; the history a record in parts kept goes into the
// packed value whole.
func TestPacksFollowsTheStanding(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	s := b.client.store
	now := time.Now().UTC()
	rec := &Record{ID: PipelineID(""), State: StatePending, Step: StepAccepted, CreatedAt: now, UpdatedAt: now,
		Request: b.request(ActionPublishNow, "a.png"), Media: []MediaItem{{Source: "a.png", Status: ItemPending}}}
	rec.note(now, StepAccepted, nil, "ok", "accepted 1 media")
	if _, _, err := s.create(ctx, rec, now); err != nil {
		t.Fatal(err)
	}
	form := func() bool {
		t.Helper()
		r, err := s.get(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		return r.packed
	}
	if !form() {
		t.Fatal("a pending record is not packed")
	}
	steps := []struct {
		fn     func(*Record)
		packed bool
	}{
		{func(r *Record) { r.State = StateRunning; r.note(now, StepUpload, nil, "ok", "one") }, false},
		{func(r *Record) { r.note(now, StepUpload, nil, "ok", "two") }, false},
		{func(r *Record) {
			r.State, r.Step, r.Cleanup = StateSucceeded, StepDone, CleanupDone
			fin := now
			r.FinishedAt = &fin
			r.note(now, StepCleanup, nil, "ok", "three")
		}, true},
		{func(r *Record) { r.note(now, StepCleanup, nil, "ok", "four") }, true},
		{func(r *Record) { r.State = StateFailed; r.Media[0].MediaID = "m" }, false},
	}
	want := []string{"accepted 1 media"}
	cur, err := s.get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i, st := range steps {
		if _, err := s.update(ctx, cur, func(r *Record) error { st.fn(r); return nil }); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		if got := form(); got != st.packed {
			t.Fatalf("after write %d the record is packed=%v, want %v", i, got, st.packed)
		}
		if n := len(cur.events); n != 0 {
			t.Fatalf("write %d left %d events unwritten", i, n)
		}
		full, err := s.getFull(ctx, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i < 4 {
			want = append(want, []string{"one", "two", "three", "four"}[i])
		}
		var msgs []string
		for _, e := range full.History {
			msgs = append(msgs, e.Message)
		}
		if !reflect.DeepEqual(msgs, want) {
			t.Fatalf("history after write %d: %q, want %q", i, msgs, want)
		}
	}
	// Retention deletes a packed record like one in parts.
	if _, err := s.update(ctx, cur, func(r *Record) error { r.Cleanup = CleanupDone; r.Media[0].Deleted = true; return nil }); err != nil {
		t.Fatal(err)
	}
	if !form() {
		t.Fatal("a finished record owing nothing is not packed")
	}
	deleted := 0
	for shard := range rdb.Shards {
		n, _, err := s.rdb.Expire(ctx, shard, now.Add(time.Second), now.Add(time.Second), 10)
		if err != nil {
			t.Fatal(err)
		}
		deleted += n
	}
	if _, err := s.get(ctx, rec.ID); deleted != 1 || !IsNotFound(err) {
		t.Fatalf("retention deleted %d; reading after: %v", deleted, err)
	}
}

// A failed pipeline owing nothing is packed too; a replay reads it from
// the packed form, lays it out in parts while it runs again, and the
// record it ends with (packed again) holds both attempts' history.
func TestPackedFailedRecordReplays(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = []string{"UHJvZmlsZUlkbm9zdWNo"}
	rec := b.waitOver(b.publish(req).ID)
	if rec.State != StateFailed {
		t.Fatalf("with an unknown profile: %s", dump(rec))
	}
	packed := func() bool {
		s, err := b.client.store.get(ctx, rec.ID)
		return err == nil && s.packed
	}
	waitUntil(t, packed)
	failed, err := b.client.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Replay(ctx, rec.ID, Edit{Post: &PostEdit{ProfileIDs: b.profiles[:1]}}, "tester"); err != nil {
		t.Fatalf("replay of a packed record: %v", err)
	}
	done := b.waitOver(rec.ID)
	if done.State != StateSucceeded || done.Replays != 1 || done.PostID == "" {
		t.Fatalf("replay ended %s", dump(done))
	}
	waitUntil(t, packed)
	got, err := b.client.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.History) <= len(failed.History) || !reflect.DeepEqual(got.History[:len(failed.History)], failed.History) ||
		!hasEvent(got, "", "info", "replay asked by tester") {
		t.Errorf("history across the replay of a packed record: before %s\nafter %s", dump(failed), dump(got))
	}
	if page, err := b.client.List(ctx, ListOptions{State: StateSucceeded}); err != nil || len(page.Records) != 1 || page.Records[0].ID != rec.ID {
		t.Errorf("the replayed record is not listed as succeeded: %v (%v)", page, err)
	}
}

// Every format a record may have been packed in reads back to the same
// parts: records packed by an older worker stay readable.
func TestUnpackReadsEveryFormat(t *testing.T) {
	t.Parallel()
	req := []byte(`{"id":"p1","request":{"media":[{"source":"a.png"}],"action":"publishNow"},"fingerprint":"f"}`)
	doc := []byte(`{"state":"succeeded","step":"done","preflight":{"at":"2026-12-07T06:00:00Z","media":[{"name":"a.png","size":3}]},"in":{}}`)
	history := [][]byte{[]byte(`{"at":"2026-12-07T06:00:00Z","step":"accepted","outcome":"ok","message":"accepted 1 media"}`)}
	raw := `{"r":` + string(req) + `,"d":` + string(doc) + `,"h":[` + string(history[0]) + `]}`
	for format, dict := range packDicts {
		t.Run(fmt.Sprintf("format %d", format), func(t *testing.T) {
			t.Parallel()
			var b bytes.Buffer
			b.WriteByte(format)
			w, err := flate.NewWriterDict(&b, flate.DefaultCompression, dict)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = w.Write([]byte(raw))
			_ = w.Close()
			got, err := unpack(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			if string(got.Req) != string(req) || string(got.Doc) != string(doc) || len(got.History) != 1 || string(got.History[0]) != string(history[0]) {
				t.Fatalf("format %d unpacks to %s %s %q", format, got.Req, got.Doc, got.History)
			}
		})
	}
	if _, err := unpack(append([]byte{99}, pack(req, doc, history)[1:]...)); err == nil {
		t.Error("a value of an unknown format unpacked")
	}
	if p := pack(req, doc, history); p[0] != packFormat {
		t.Errorf("pack wrote format %d, want %d", p[0], packFormat)
	}
}

// compactTimes cuts a finished record's times to the millisecond, but for
// its request's (what was asked stays as asked), and leaves the record it
// was cloned from as it was.
func TestCompactTimesCutsToTheMillisecond(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 6, 0, 0, 123456789, time.UTC)
	publishAt := at.Add(time.Hour)
	r := &Record{CreatedAt: at, FinishedAt: &at, Request: Request{Post: &PostSpec{PublishAt: &publishAt}},
		Media: []MediaItem{{ConfirmedAt: &at}}, History: []Event{{At: at}}}
	r.in.ProgressAt = at
	edited := Request{Post: &PostSpec{PublishAt: &publishAt}}
	r.in.Edited = &edited
	r.events = []Event{{At: at}}
	orig := cloneRecord(r)
	compactTimes(r)
	ms := at.Truncate(time.Millisecond)
	for name, got := range map[string]time.Time{"createdAt": r.CreatedAt, "finishedAt": *r.FinishedAt,
		"media confirmedAt": *r.Media[0].ConfirmedAt, "history": r.History[0].At, "in.progressAt": r.in.ProgressAt, "new event": r.events[0].At} {
		if !got.Equal(ms) {
			t.Errorf("%s is %s, want %s", name, got.Format(time.RFC3339Nano), ms.Format(time.RFC3339Nano))
		}
	}
	if !r.Request.Post.PublishAt.Equal(publishAt) {
		t.Errorf("the request's publishAt changed to %s", r.Request.Post.PublishAt)
	}
	if !r.in.Edited.Post.PublishAt.Equal(publishAt) {
		t.Errorf("the edited request's publishAt changed to %s", r.in.Edited.Post.PublishAt)
	}
	if !orig.FinishedAt.Equal(at) || !orig.Media[0].ConfirmedAt.Equal(at) || !orig.History[0].At.Equal(at) {
		t.Error("the record r was cloned from changed too")
	}
}

package tasks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// livePosts are the sandbox's posts that were not deleted.
func (b *bundle) livePosts() []sandbox.PostInfo {
	var out []sandbox.PostInfo
	for _, p := range b.sb.Server.AllPosts() {
		if !p.Deleted {
			out = append(out, p)
		}
	}
	return out
}

// scheduledIn publishes a one-media pipeline scheduled d from now (to
// the second) and waits until its post is scheduled.
func (b *bundle) scheduledIn(d time.Duration) (*Record, time.Time) {
	b.t.Helper()
	req := b.request(ActionSchedule, "a.png")
	at := time.Now().Add(d).Truncate(time.Second)
	req.Post.PublishAt = &at
	return b.waitRecord(b.publish(req).ID, "scheduled", func(r *Record) bool { return r.Staged }), at
}

// waitOver waits until a pipeline ended and its cleanup is done.
func (b *bundle) waitOver(id string) *Record {
	b.t.Helper()
	return b.waitRecord(id, "the end and its cleanup", func(r *Record) bool { return r.State.Terminal() && r.Cleanup != CleanupPending })
}

func captionOf(p swonkie.Post) string {
	if len(p.Captions) == 0 {
		return ""
	}
	return p.Captions[0].PlainText
}

// Done when (1): a pipeline failed at attach because its profile was
// unknown is replayed with a valid profile and succeeds with exactly one
// post; the history shows both attempts.
func TestReplayWithAValidProfileSucceedsWithOnePost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = []string{"UHJvZmlsZUlkbm9zdWNo"}
	rec := b.waitOver(b.publish(req).ID)
	if rec.State != StateFailed || rec.Step != StepAttach {
		t.Fatalf("with an unknown profile: %s", dump(rec))
	}
	// Replayed as it is, it fails the same way, a second attempt.
	if _, err := b.client.Replay(context.Background(), rec.ID, Edit{}, "tester"); err != nil {
		t.Fatal(err)
	}
	if rec = b.waitOver(rec.ID); rec.State != StateFailed || rec.Replays != 1 {
		t.Fatalf("replayed unchanged: %s", dump(rec))
	}
	replayed, err := b.client.Replay(context.Background(), rec.ID, Edit{Post: &PostEdit{ProfileIDs: b.profiles[:1]}}, "tester")
	if err != nil {
		t.Fatalf("replay with a valid profile: %v", err)
	}
	if replayed.ID != rec.ID || replayed.Key != rec.Key || replayed.State != StatePending {
		t.Fatalf("replayed %s", dump(replayed))
	}
	rec = b.wait(rec.ID)
	if rec.State != StateSucceeded || rec.PublishedAt == nil {
		t.Fatalf("replay ended %s", dump(rec))
	}
	if live := b.livePosts(); len(live) != 1 || live[0].Post.ID != rec.PostID {
		t.Fatalf("%d live posts, want exactly the pipeline's one (%s)", len(live), rec.PostID)
	}
	if st := b.sb.Server.Stats(); st.Posts.Created != 1 {
		t.Errorf("%d posts created, want 1", st.Posts.Created)
	}
	if !hasEvent(rec, "", "info", "replay asked by tester") || !hasEvent(rec, StepAccepted, "ok", "begins") || !hasEvent(rec, "", "info", "edited by tester: profiles") {
		t.Errorf("history lacks the attempts or who changed what: %s", dump(rec))
	}
	if _, err := b.client.Replay(context.Background(), rec.ID, Edit{}, "tester"); !errors.Is(err, ErrNotReplayable) {
		t.Errorf("replay of a succeeded pipeline: %v, want ErrNotReplayable", err)
	}
	b.assertClean()
}

// Done when (2): a pipeline whose create-post reply was lost and which
// then failed (its search for the post kept failing) is replayed: there is
// never a second live post. The failed attempt's cleanup finds the post
// the lost reply made and deletes it, as it withdraws any post of a failed
// pipeline (step_cleanup.go findLostPost), so the replay makes one.
func TestReplayAfterALostPostReplyMakesNoDuplicate(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.MaxRetry = 2
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing = timing })
	var lost atomic.Int32
	var id atomic.Value
	id.Store("")
	// The attach step's searches fail; from the cleanup's on, once the
	// pipeline failed, none does.
	var healed atomic.Bool
	searchFails := func() bool {
		if !healed.Load() {
			rec, err := b.client.Get(context.Background(), id.Load().(string))
			healed.Store(err == nil && rec.State == StateFailed)
		}
		return !healed.Load()
	}
	srv := httptest.NewServer(&interposer{sb: b.sb, before: func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v2/posts") && lost.Add(1) == 1:
			// The post is made; its answer never arrives.
			b.sb.Server.ServeHTTP(httptest.NewRecorder(), r)
			panic(http.ErrAbortHandler)
		case r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/v2/posts") && searchFails():
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	}})
	t.Cleanup(srv.Close)
	b.api = b.newAPIClient(srv.URL + "/v2")
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing})

	rec := b.publish(b.request(ActionPublishNow, "a.png", "b.png"))
	id.Store(rec.ID)
	rec = b.waitOver(rec.ID)
	if rec.State != StateFailed || rec.Step != StepAttach || rec.PostID == "" || !rec.PostWithdrawn || !hasEvent(rec, StepCleanup, "info", "found post") {
		t.Fatalf("want failed at attach, the lost post found and withdrawn: %s", dump(rec))
	}
	if live := b.livePosts(); len(live) != 0 {
		t.Fatalf("%d live posts after the failed attempt's cleanup, want none", len(live))
	}
	if _, err := b.client.Replay(context.Background(), rec.ID, Edit{}, "tester"); err != nil {
		t.Fatal(err)
	}
	rec = b.wait(rec.ID)
	if rec.State != StateSucceeded {
		t.Fatalf("replay ended %s", dump(rec))
	}
	live := b.livePosts()
	if len(live) != 1 || live[0].Post.ID != rec.PostID {
		t.Fatalf("%d live posts, want 1 (the pipeline's %s)", len(live), rec.PostID)
	}
	if st := b.sb.Server.Stats(); st.Posts.Created != 2 {
		t.Errorf("%d posts created, want 2: the lost one, deleted, and the replay's", st.Posts.Created)
	}
	// The post carries this attempt's media.
	if got, want := live[0].Post.MediaLibIDs(), rec.mediaIDs(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("post media %v, record's %v", got, want)
	}
}

// Done when (3): an edit of the caption and publishAt of a scheduled
// pipeline leaves one post with the new values, scheduled again.
func TestEditOfAScheduledPipelineLeavesOnePostWithTheNewValues(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec, at := b.scheduledIn(time.Hour)
	caption, later := "edited caption", at.Add(time.Hour)
	edited, err := b.client.Edit(context.Background(), rec.ID, Edit{Post: &PostEdit{Caption: &caption, PublishAt: &later}}, "tester")
	if err != nil {
		t.Fatal(err)
	}
	if edited.Request.Post.Caption != caption || !edited.Request.Post.PublishAt.Equal(later) {
		t.Fatalf("edited record %s", dump(edited))
	}
	rec = b.waitRecord(rec.ID, "scheduled again with the edit", func(r *Record) bool {
		return r.Staged && r.PostPublishAt != nil && r.PostPublishAt.Equal(later)
	})
	live := b.livePosts()
	if len(live) != 1 || live[0].Post.ID != rec.PostID {
		t.Fatalf("%d live posts, want 1", len(live))
	}
	post := live[0].Post
	if captionOf(post) != caption || post.PublishAt == nil || !post.PublishAt.Equal(later) || post.Stage != swonkie.StageScheduled {
		t.Fatalf("post caption %q publishAt %v stage %s; want %q at %s, SCHEDULED", captionOf(post), post.PublishAt, post.Stage, caption, later)
	}
	if rec.PostStage != string(swonkie.StageScheduled) || !hasEvent(rec, "", "info", "edited by tester: caption") {
		t.Errorf("record %s", dump(rec))
	}
	// A second read of the record (the edited request lives in the
	// document) still says the same.
	again, _ := b.client.Get(context.Background(), rec.ID)
	if again.Request.Post.Caption != caption {
		t.Errorf("record read again has caption %q", again.Request.Post.Caption)
	}
	// Cancelled, nothing is left.
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	if rec = b.wait(rec.ID); rec.State != StateCancelled {
		t.Fatalf("cancel ended %s", dump(rec))
	}
	b.assertClean()
}

// An edit that lands while the attach task that staged the post is still
// in asynq (its run has written "staged" and not yet returned): the
// attach the edit plans must not be refused as a second copy of that
// task, or the edit waits for the sweep while the post keeps its old
// content. The still-present task is stood in for by one with its id,
// due in an hour.
func TestEditWhileTheAttachTaskIsStillThere(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rec, _ := b.scheduledIn(time.Hour)
	if err := enqueueNext(context.Background(), b.client.enq, b.timing, time.Now(), next{typ: TypePostAttach, pl: Payload{PipelineID: rec.ID}}, asynq.ProcessIn(time.Hour)); err != nil {
		t.Fatal(err)
	}
	caption := "edited caption"
	if _, err := b.client.Edit(context.Background(), rec.ID, Edit{Post: &PostEdit{Caption: &caption}}, "tester"); err != nil {
		t.Fatal(err)
	}
	b.waitRecord(rec.ID, "scheduled again with the edit", func(r *Record) bool {
		return r.Staged && !r.editPending() && r.Request.Post.Caption == caption
	})
	if live := b.livePosts(); len(live) != 1 || captionOf(live[0].Post) != caption {
		t.Fatalf("%d live posts, want one with the edit", len(live))
	}
}

// Done when (4): 20 edits racing 20 running pipelines are each applied or
// refused with a conflict (ErrBusy, ErrAlreadyPublished, ErrFinished),
// never half applied: each post's caption equals its record's.
func TestEditsRacingRunningPipelinesAreAppliedOrRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 20
	ids := make([]string, n)
	for i := range n {
		action := ActionPublishNow
		if i%2 == 1 {
			action = ActionSchedule
		}
		req := b.request(action, "a.png")
		if action == ActionSchedule {
			at := time.Now().Add(time.Hour)
			req.Post.PublishAt = &at
		}
		ids[i] = b.publish(req).ID
	}
	// Each edit lands at another moment of its pipeline: at once, after
	// the upload, when the media are ready, once attached.
	moments := []func(*Record) bool{
		func(*Record) bool { return true },
		func(r *Record) bool { return r.Step.rank() >= StepConfirm.rank() },
		func(r *Record) bool { return r.allReady() },
		func(r *Record) bool { return r.PostID != "" || r.State.Terminal() },
	}
	var wg sync.WaitGroup
	var applied, refused atomic.Int32
	results := make([]error, n)
	for i, id := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) {
				rec, err := b.client.Get(context.Background(), id)
				if err == nil && moments[i%len(moments)](rec) {
					break
				}
				time.Sleep(5 * time.Millisecond)
			}
			caption := fmt.Sprintf("edited %d", i)
			_, err := b.client.Edit(context.Background(), id, Edit{Post: &PostEdit{Caption: &caption}}, "racer")
			results[i] = err
			switch {
			case err == nil:
				applied.Add(1)
			case errors.Is(err, ErrBusy), errors.Is(err, ErrAlreadyPublished), errors.Is(err, ErrFinished):
				refused.Add(1)
			}
		}()
	}
	wg.Wait()
	for i, err := range results {
		if err != nil && !errors.Is(err, ErrBusy) && !errors.Is(err, ErrAlreadyPublished) && !errors.Is(err, ErrFinished) {
			t.Errorf("edit %d: %v, want applied or refused as a conflict", i, err)
		}
	}
	for i, id := range ids {
		var rec *Record
		if i%2 == 0 {
			rec = b.wait(id)
			if rec.State != StateSucceeded {
				t.Errorf("pipeline %d ended %s", i, dump(rec))
				continue
			}
		} else {
			rec = b.waitRecord(id, "scheduled with every edit", func(r *Record) bool { return r.Staged })
		}
		info, ok := b.sb.Server.Post(rec.PostID)
		if !ok {
			t.Errorf("pipeline %d: no post %s", i, rec.PostID)
			continue
		}
		want := rec.Request.Post.Caption
		if got := captionOf(info.Post); got != want {
			t.Errorf("pipeline %d (edit: %v): post caption %q, record's %q — half applied", i, results[i], got, want)
		}
		if results[i] == nil && want != fmt.Sprintf("edited %d", i) {
			t.Errorf("pipeline %d: the edit was accepted but the record says %q", i, want)
		}
	}
	t.Logf("edits applied %d, refused %d", applied.Load(), refused.Load())
	if st := b.sb.Server.Stats(); st.Posts.Created != n {
		t.Errorf("%d posts created for %d pipelines", st.Posts.Created, n)
	}
}

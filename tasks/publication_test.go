package tasks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// A cancel that comes after Swonkie published the post on some of its
// profiles (a partial publication: stage PUBLISHED, one profile ERROR) but
// before the watch step recorded it: the post is out, so the cancel came
// too late. The cleanup must not delete the published post and report the
// pipeline cancelled (docs/design.md, I8: a published post never ends
// failed; the cancel "succeeded if the post turns out published").
func TestCancelAfterAPartialPublicationComesTooLate(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.noWorker = true
		c.sandbox.Faults = sandbox.FaultPlan{"PATCH /posts/{id}/stage/{stage}": {PartialPublish: 1}}
	})
	// The watch's reads of the post are put off (429, which spends no
	// retry) until the cancel is recorded: the watch has not looked yet.
	var hold atomic.Bool
	hold.Store(true)
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if hold.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/posts/") && !strings.HasSuffix(r.URL.Path, "/validate") {
			w.Header().Set("Retry-After", "1")
			http.Error(w, `{"message":"slow down"}`, http.StatusTooManyRequests)
			return true
		}
		return false
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	rec = b.waitRecord(rec.ID, "staged", func(r *Record) bool { return r.Staged })
	deadline := time.Now().Add(10 * time.Second)
	for {
		info, ok := b.sb.Server.Post(rec.PostID)
		if ok && info.Post.Stage == swonkie.StagePublished {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the post did not go out: %+v", info)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	hold.Store(false)
	rec = b.waitOver(rec.ID)
	info, _ := b.sb.Server.Post(rec.PostID)
	if info.Deleted {
		t.Errorf("the cleanup deleted post %s, which is out on a profile", rec.PostID)
	}
	if rec.State != StateSucceeded || rec.PublishedAt == nil {
		t.Fatalf("ended %s (publishedAt %v) for a post Swonkie published; want succeeded, the cancel too late: %s", rec.State, rec.PublishedAt, dump(rec))
	}
}

// A cancel that comes while publishNow is pushing the post out (stage
// SCHEDULED, every profile PENDING): Swonkie refuses to delete a post it is
// publishing (409, docs/swonkie-api.md 4.10 "protected stages"), for now,
// not for good. The cleanup must not take that as "left as is" and delete
// the media from under the publication: it waits for the publication to
// end, then withdraws what failed or keeps what went out.
func TestCancelWhilePublishingWaitsForThePublication(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.sandbox.PublishDelay = 2 * time.Second })
	// The post is read under way (every profile PENDING) from the cancel
	// on: the cleanup waits without trying a delete, which an API that
	// does not refuse it would carry out mid-publication.
	var refused atomic.Int32
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodDelete || !strings.Contains(r.URL.Path, "/posts/") {
			return false
		}
		rec := httptest.NewRecorder()
		b.sb.Server.ServeHTTP(rec, r)
		if rec.Code == http.StatusConflict {
			refused.Add(1)
		}
		relay(w, rec)
		return true
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	rec = b.waitRecord(rec.ID, "staged", func(r *Record) bool { return r.Staged })
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.waitOver(rec.ID)
	if n := refused.Load(); n > 0 {
		t.Errorf("%d deletes of the post were sent while it was being published", n)
	}
	info, _ := b.sb.Server.Post(rec.PostID)
	switch {
	case info.Deleted:
		if rec.State != StateCancelled {
			t.Errorf("post deleted, pipeline %s", rec.State)
		}
	case info.Post.Stage == swonkie.StagePublished:
		if rec.State != StateSucceeded || rec.PublishedAt == nil {
			t.Errorf("post published, pipeline ended %s", rec.State)
		}
	default:
		t.Errorf("post %s left live as %s (publishStatus %+v) by a pipeline that ended %s: %s", rec.PostID, info.Post.Stage, info.Post.Profiles, rec.State, dump(rec))
	}
	for _, m := range rec.Media {
		if mi, _ := b.sb.Server.Media(m.MediaID); mi.State == sandbox.StateDeleted && info.Post.Stage != swonkie.StagePublished && !info.Deleted {
			t.Errorf("media %s deleted while post %s still uses it", m.MediaID, rec.PostID)
		}
	}
}

// An edit of a scheduled pipeline whose post is being published: its
// publishAt passed while the media were prepared, so the attach step
// published it at once (stage: publishNow, within LateTolerance), and the
// record still says schedule, staged, not published. Someone moves it to
// tomorrow. The edit is accepted; the attach step reads the post
// (SCHEDULED, profiles PENDING), Swonkie refuses the unschedule and the
// update of a post it is publishing (409), and the pipeline must not fail
// with its post going out (docs/design.md, I8), nor be left with a post
// stranded and its media deleted from under it.
func TestEditOfAPostBeingPublished(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.sandbox.PublishDelay = 2 * time.Second })
	req := b.request(ActionSchedule, "a.png") // publishAt 3 s ahead: inside scheduleMargin, published at once
	rec := b.waitRecord(b.publish(req).ID, "staged", func(r *Record) bool { return r.Staged })
	if !hasEvent(rec, StepAttach, "ok", "publishNow post") {
		t.Fatalf("want the post published at once: %s", dump(rec))
	}
	tomorrow := time.Now().Add(24 * time.Hour)
	_, err := b.client.Edit(context.Background(), rec.ID, Edit{Post: &PostEdit{PublishAt: &tomorrow}}, "tester")
	if err != nil {
		t.Logf("edit refused: %v", err)
	}
	rec = b.waitOver(rec.ID)
	info, _ := b.sb.Server.Post(rec.PostID)
	if info.Post.Stage == swonkie.StagePublished && (rec.State != StateSucceeded || rec.PublishedAt == nil) {
		t.Fatalf("post %s is PUBLISHED, the pipeline ended %s: %s", rec.PostID, rec.State, dump(rec))
	}
	if info.Post.Stage != swonkie.StagePublished && !info.Deleted {
		t.Fatalf("post %s left live as %s, the pipeline ended %s: %s", rec.PostID, info.Post.Stage, rec.State, dump(rec))
	}
}

// A cancel that comes while publishNow's answer is lost (this side stopped
// waiting, the call landed): the record is not staged, so it has no
// AttachedAt, and the post is being published (every profile PENDING).
// The cleanup must wait for that publication as it does for a staged
// post's, not take the 409 on delete as "left as is" and delete the media
// from under the publication, stranding the post.
func TestCancelAfterALostPublishNowReplyWaitsForThePublication(t *testing.T) {
	t.Parallel()
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true; c.sandbox.PublishDelay = 6 * time.Second })
	landed := make(chan struct{})
	var once atomic.Bool
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if !isStageCall(r) || !strings.HasSuffix(r.URL.Path, "/publishNow") || !once.CompareAndSwap(false, true) {
			return false
		}
		return b.answerTooLate(w, r, func() { close(landed) })
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	select {
	case <-landed:
	case <-time.After(20 * time.Second):
		t.Fatal("publishNow was never sent")
	}
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.waitOver(rec.ID)
	info, _ := b.sb.Server.Post(rec.PostID)
	for _, m := range rec.Media {
		if mi, _ := b.sb.Server.Media(m.MediaID); mi.State == sandbox.StateDeleted && info.Post.Stage != swonkie.StagePublished && !info.Deleted {
			t.Errorf("media %s deleted while post %s is %s (publishStatus %+v) and not deleted: %s", m.MediaID, rec.PostID, info.Post.Stage, info.Post.Profiles, dump(rec))
		}
	}
	if info.Post.Stage == swonkie.StagePublished && (rec.State != StateSucceeded || rec.PublishedAt == nil) {
		t.Errorf("post published, pipeline ended %s: %s", rec.State, dump(rec))
	}
}

// A cancel on the caller's post that finds the post's lock held by another
// pipeline right after it unscheduled the post: the next run reads the
// post DRAFT and must still record DRAFT, not the SCHEDULED it recorded
// when it staged the post.
func TestCancelOnCallersPostRecordsItsStageAfterWaitingForTheLock(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	var armed atomic.Bool
	lockKey := ""
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if armed.Load() && isStageCall(r) && strings.HasSuffix(r.URL.Path, "/unschedule") {
			b.redis.Client.Set(context.Background(), lockKey, "another-run", 1500*time.Millisecond)
		}
		return false
	})
	own, rec := b.scheduledOnCallersPost()
	// Another pipeline holds the post's lock once the unschedule is sent.
	lockKey = "mediaflow:ws:" + b.api.Workspace() + ":post:" + own.PostID + ":lock"
	armed.Store(true)
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.wait(rec.ID)
	post, _ := b.sb.Server.Post(own.PostID)
	if rec.State != StateCancelled || post.Post.Stage != swonkie.StageDraft {
		t.Fatalf("ended %s, post %s: %s", rec.State, post.Post.Stage, dump(rec))
	}
	if rec.PostStage != string(post.Post.Stage) {
		t.Errorf("record's postStage %q, the post is %s: %s", rec.PostStage, post.Post.Stage, dump(rec))
	}
}

// A cancel hours before a scheduled post's time, from an API whose
// profiles carry a status while the post is only queued (the values are
// not documented; the sandbox shows none until publishing starts): the
// cleanup unschedules it, which proves nothing is being published, and
// withdraws it at once rather than wait for its time.
func TestCancelOfAQueuedPostWithStatusesDoesNotWait(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	rewritePostReads(b, markQueued)
	rec, _ := b.scheduledIn(3 * time.Hour)
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.waitOver(rec.ID)
	if info, _ := b.sb.Server.Post(rec.PostID); rec.State != StateCancelled || !info.Deleted {
		t.Fatalf("ended %s with the post deleted %v, want cancelled and deleted: %s", rec.State, info.Deleted, dump(rec))
	}
}

// rewritePostReads passes every post the worker reads (GET /posts/...,
// the validation aside) through rewrite, as decoded JSON, before the worker
// sees it.
func rewritePostReads(b *bundle, rewrite func(any)) {
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/posts/") || strings.HasSuffix(r.URL.Path, "/validate") {
			return false
		}
		rec := httptest.NewRecorder()
		b.sb.Server.ServeHTTP(rec, r)
		var body any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != http.StatusOK {
			return false // the sandbox answers again, as it would have
		}
		rewrite(body)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_ = json.NewEncoder(w).Encode(body)
		return true
	})
}

// markQueued gives every profile of a SCHEDULED post in v a publishStatus
// of "QUEUED" where it has none.
func markQueued(v any) {
	switch v := v.(type) {
	case map[string]any:
		if v["stage"] == string(swonkie.StageScheduled) {
			if profiles, ok := v["profiles"].([]any); ok {
				for _, p := range profiles {
					if p, ok := p.(map[string]any); ok && p["publishStatus"] == nil {
						p["publishStatus"] = "QUEUED"
					}
				}
			}
		}
		for _, x := range v {
			markQueued(x)
		}
	case []any:
		for _, x := range v {
			markQueued(x)
		}
	}
}

// dropStatuses removes every profile's publishStatus from v: a post
// Swonkie has not started publishing.
func dropStatuses(v any) {
	switch v := v.(type) {
	case map[string]any:
		delete(v, "publishStatus")
		for _, x := range v {
			dropStatuses(x)
		}
	case []any:
		for _, x := range v {
			dropStatuses(x)
		}
	}
}

// The watch's deadline (PublishWaitCap past the post's due time) is for a
// post Swonkie has not started on. One Swonkie is publishing (its profiles
// report PENDING) may yet go out: failing it then would report failed a
// post that goes out, or, with its media deleted by the cleanup, make the
// publication fail. It is waited for, up to PublishingCap. A post not
// started by the deadline still fails.
func TestWatchDeadlineWaitsForAPublicationUnderWay(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		started  bool
		delay    time.Duration
		want     State
		wantPost swonkie.Stage
	}{
		{name: "under way", started: true, delay: 4 * time.Second, want: StateSucceeded, wantPost: swonkie.StagePublished},
		{name: "not started", delay: time.Minute, want: StateFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *setupConfig) {
				c.noWorker = true
				c.sandbox.PublishDelay = tc.delay
				c.timing.PublishWaitCap = time.Second
			})
			if tc.started {
				withInterposer(b, func(http.ResponseWriter, *http.Request) bool { return false })
			} else {
				rewritePostReads(b, dropStatuses)
			}
			rec := b.waitOver(b.publish(b.request(ActionPublishNow, "a.png")).ID)
			if rec.State != tc.want {
				t.Fatalf("ended %s, want %s: %s", rec.State, tc.want, dump(rec))
			}
			if tc.want == StateFailed && (rec.Error == nil || !strings.Contains(rec.Error.Message, "publication deadline")) {
				t.Errorf("failed for another reason than the deadline: %s", dump(rec))
			}
			if info, _ := b.sb.Server.Post(rec.PostID); tc.wantPost != "" && info.Post.Stage != tc.wantPost {
				t.Errorf("post %s is %s (profiles %+v), want %s", rec.PostID, info.Post.Stage, info.Post.Profiles, tc.wantPost)
			}
		})
	}
}

// The watch gives up on a post Swonkie has not started an hour after it
// was due, and Swonkie starts publishing it before the cleanup withdraws
// it (the delete would be refused, 409): the post goes out. A pipeline
// whose post went out never ends failed (I8), so the give-up does not end
// it: its cleanup decides, here by finding the post out.
func TestGiveUpOnAPostThatThenGoesOutSucceeds(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.noWorker = true
		c.sandbox.PublishDelay = 4 * time.Second
		c.timing.PublishWaitCap = time.Second
	})
	// Every read before the watch gave up shows the post not started
	// (no statuses); the cleanup's, after it, what Swonkie says.
	var id atomic.Value
	id.Store("")
	rewritePostReads(b, func(body any) {
		rec, err := b.client.Get(context.Background(), id.Load().(string))
		if err == nil && rec.Error != nil && strings.Contains(rec.Error.Message, "publication deadline") {
			return
		}
		dropStatuses(body)
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	id.Store(rec.ID)
	rec = b.waitOver(rec.ID)
	if !strings.Contains(dump(rec), "publication deadline") {
		t.Fatalf("the watch did not give up, so the test proves nothing: %s", dump(rec))
	}
	info, _ := b.sb.Server.Post(rec.PostID)
	if info.Post.Stage != swonkie.StagePublished {
		t.Fatalf("post %s is %s (profiles %+v): the cleanup pulled it from the publication: %s", rec.PostID, info.Post.Stage, info.Post.Profiles, dump(rec))
	}
	if rec.State != StateSucceeded || rec.PublishedAt == nil {
		t.Fatalf("ended %s (publishedAt %v) with its post out: %s", rec.State, rec.PublishedAt, dump(rec))
	}
}

// A cancel of a pipeline on the caller's post, whose owner publishes it
// between the cleanup's first look and its change under the post's lock:
// Swonkie refuses the change while it publishes, and our media must not be
// deleted from under the publication. The cleanup reads the post again
// under the lock and waits for the publication, which then keeps the post
// and our media on it (the cancel came too late).
func TestCancelOnCallersPostThatStartsPublishing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.sandbox.PublishDelay = 2 * time.Second })
	var (
		armed  atomic.Bool
		postID atomic.Value
		once   sync.Once
	)
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		id, _ := postID.Load().(string)
		if !armed.Load() || r.Method != http.MethodGet || id == "" || !strings.HasSuffix(r.URL.Path, "/posts/"+id) {
			return false
		}
		locked, err := b.redis.Client.Keys(context.Background(), "mediaflow:ws:*:post:*:lock").Result()
		if err != nil || len(locked) == 0 {
			return false // the cleanup's first look, before the lock
		}
		once.Do(func() {
			if _, err := b.api.ChangeStage(context.Background(), id, swonkie.ActionPublishNow); err != nil {
				t.Errorf("the owner's publishNow: %v", err)
			}
		})
		return false
	})
	own, rec := b.scheduledOnCallersPost()
	postID.Store(own.PostID)
	armed.Store(true)
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.waitOver(rec.ID)
	post, _ := b.sb.Server.Post(own.PostID)
	if post.Post.Stage != swonkie.StagePublished {
		t.Fatalf("the caller's post is %s (%+v), want published with its media: %s", post.Post.Stage, post.Post.Profiles, dump(rec))
	}
	if rec.State != StateSucceeded || rec.PublishedAt == nil {
		t.Errorf("ended %s for a post that went out with our media: %s", rec.State, dump(rec))
	}
}

// A cancel of a scheduled post that Swonkie publishes between the
// cleanup's read (SCHEDULED, nothing under way) and its unschedule: the
// unschedule is refused (the post is PUBLISHED, not SCHEDULED). That
// refusal must not be taken as "not scheduled any more" and the post
// deleted: it went out, so the cancel came too late and the pipeline
// succeeds with its post left on Swonkie (docs/design.md, I8). Run with
// both statuses the docs allow for a refused stage action.
func TestCancelOfAScheduledPostPublishedBeforeItsUnschedule(t *testing.T) {
	t.Parallel()
	for _, refusal := range stageRefusals {
		t.Run(http.StatusText(int(refusal)), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *setupConfig) { c.noWorker = true; c.sandbox.StageRefusal = refusal })
			var armed, once atomic.Bool
			withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
				if armed.Load() && isStageCall(r) && strings.HasSuffix(r.URL.Path, "/unschedule") && once.CompareAndSwap(false, true) {
					_ = b.sb.Server.Advance(2 * time.Hour) // its time comes: Swonkie publishes it
				}
				return false
			})
			rec, _ := b.scheduledIn(time.Hour)
			armed.Store(true)
			if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
				t.Fatal(err)
			}
			rec = b.waitOver(rec.ID)
			if !once.Load() {
				t.Fatalf("no unschedule was sent: %s", dump(rec))
			}
			info, _ := b.sb.Server.Post(rec.PostID)
			if info.Post.Stage != swonkie.StagePublished {
				t.Fatalf("the post did not go out (%s): the case this test is about never happened", info.Post.Stage)
			}
			if info.Deleted {
				t.Errorf("the cleanup deleted post %s, which is published", rec.PostID)
			}
			if rec.State != StateSucceeded || rec.PublishedAt == nil {
				t.Errorf("ended %s (publishedAt %v) for a post Swonkie published; want succeeded, the cancel too late: %s", rec.State, rec.PublishedAt, dump(rec))
			}
		})
	}
}

// The attach step's last allowed run sends publishNow, which lands, and its
// answer never comes: the step gives up. The post goes out all the same,
// so the pipeline must not end failed (I8): its cleanup reads the post and
// finds it out.
func TestGiveUpOnAnUnansweredStageCallThatLanded(t *testing.T) {
	t.Parallel()
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true; c.timing.MaxRetry = 1 })
	var calls atomic.Int32
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if !isStageCall(r) {
			return false
		}
		if calls.Add(1) <= 2 {
			// The inline run and the task's first fail before anything
			// lands: the task's retry is the last allowed run.
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		return b.answerTooLate(w, r, nil)
	})
	rec := b.waitOver(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if !hasEvent(rec, StepAttach, giveUp.String(), "") {
		t.Fatalf("the attach step did not give up, so the test proves nothing: %s", dump(rec))
	}
	b.checkOutAndSucceeded(rec)
}

// The attach step's stage call lands and its answer never comes; the next
// run, the last allowed, cannot read the post's stage (503) and gives up on
// that. The stage call that went unanswered may have landed all the same
// (it did: publishNow), so the pipeline must not end failed while its post
// goes out (I8): in.StageUnanswered holds from the unanswered call on, not
// only when the give-up is that call's own error.
func TestGiveUpAfterAnUnansweredStageCallThatLanded(t *testing.T) {
	t.Parallel()
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true; c.timing.MaxRetry = 1 })
	var calls, reads atomic.Int32
	var landed atomic.Bool
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if landed.Load() && r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/posts/") &&
			!strings.HasSuffix(r.URL.Path, "/validate") && reads.Add(1) == 1 {
			// The last run's read of the stage fails: it gives up on it.
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		if !isStageCall(r) {
			return false
		}
		if calls.Add(1) == 1 {
			// The inline run's call fails before anything lands.
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		return b.answerTooLate(w, r, func() { landed.Store(true) })
	})
	rec := b.waitOver(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if !hasEvent(rec, StepAttach, giveUp.String(), "") || calls.Load() != 2 || reads.Load() == 0 {
		t.Fatalf("the attach step did not give up on a read after the landed call (%d stage calls, %d reads), so the test proves nothing: %s", calls.Load(), reads.Load(), dump(rec))
	}
	b.checkOutAndSucceeded(rec)
}

// A pipeline adding media to the caller's draft post schedules it; the
// schedule call lands and its answer never comes, and the attach step
// gives up. Its cleanup takes our media off the caller's post and must
// take it off the queue too: the schedule was ours (the owner left it a
// draft), and left SCHEDULED it goes out on the networks while the
// pipeline says failed.
func TestGiveUpOnAnUnansweredScheduleOfTheCallersPostUnschedulesIt(t *testing.T) {
	t.Parallel()
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true; c.timing.MaxRetry = 1 })
	var armed atomic.Bool
	var calls atomic.Int32
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if !armed.Load() || !isStageCall(r) {
			return false
		}
		if calls.Add(1) <= 2 {
			// The inline run and the task's first fail before anything
			// lands: the task's retry is the last allowed run.
			http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
			return true
		}
		return b.answerTooLate(w, r, nil)
	})
	own := b.callersDraft()
	armed.Store(true)
	req := b.onCallersPost(own)
	rec := b.waitOver(b.publish(req).ID)
	if !hasEvent(rec, StepAttach, giveUp.String(), "") || calls.Load() < 3 {
		t.Fatalf("the attach step did not give up on a schedule that landed, so the test proves nothing: %s", dump(rec))
	}
	b.checkCallersPost(own, rec, swonkie.StageDraft)
	if rec.State != StateFailed {
		t.Errorf("ended %s: %s", rec.State, dump(rec))
	}
}

// A cancel comes while the schedule call on the caller's draft post is
// out; the call lands and the step, interrupted, never hears its answer.
// The cancel's cleanup takes our media off the caller's post and must
// take it off the queue too: the schedule was ours, and the step that made
// it recorded no failure (a cancelled run's error is not one), so the
// record must know of the call from the step itself.
func TestCancelDuringAScheduleOfTheCallersPostUnschedulesIt(t *testing.T) {
	t.Parallel()
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	var armed atomic.Bool
	landed := make(chan struct{}, 1)
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if !armed.Load() || !isStageCall(r) {
			return false
		}
		return b.answerTooLate(w, r, func() { landed <- struct{}{} })
	})
	own := b.callersDraft()
	armed.Store(true)
	req := b.onCallersPost(own)
	id := b.publish(req).ID
	select {
	case <-landed:
	case <-time.After(30 * time.Second):
		t.Fatal("no schedule call")
	}
	if _, err := b.client.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	rec := b.waitOver(id)
	b.checkCallersPost(own, rec, swonkie.StageDraft)
	if rec.State != StateCancelled {
		t.Errorf("ended %s: %s", rec.State, dump(rec))
	}
}

// An edit of a scheduled pipeline leaves its post scheduled until the
// attach step unschedules it to put the edit on; that step gives up before
// it could (Swonkie's reads failing), and Swonkie publishes the post
// meanwhile. The record no longer says staged (the edit cleared it), but
// the post is queued by our schedule all the same and may go out: the
// pipeline must not end failed while it does (I8).
func TestGiveUpOnAnEditOfAScheduledPostThatThenGoesOut(t *testing.T) {
	t.Parallel()
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true; c.timing.MaxRetry = 1 })
	ctx := context.Background()
	var armed atomic.Bool
	var pid atomic.Value
	pid.Store("")
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		id := pid.Load().(string)
		if !armed.Load() || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/posts/") || strings.HasSuffix(r.URL.Path, "/validate") {
			return false
		}
		if rec, err := b.client.Get(ctx, id); err == nil && hasEvent(rec, StepAttach, giveUp.String(), "") {
			return false // the cleanup reads what Swonkie says
		}
		http.Error(w, `{"message":"unavailable"}`, http.StatusServiceUnavailable)
		return true
	})
	req := b.request(ActionSchedule, "a.png")
	at := time.Now().Add(time.Hour)
	req.Post.PublishAt = &at
	rec := b.publish(req)
	pid.Store(rec.ID)
	rec = b.waitRecord(rec.ID, "staged", func(r *Record) bool { return r.Staged })
	armed.Store(true)
	later := at.Add(time.Hour)
	if _, err := b.client.Edit(ctx, rec.ID, Edit{Post: &PostEdit{PublishAt: &later}}, "tester"); err != nil {
		t.Fatal(err)
	}
	_ = b.sb.Server.Advance(90 * time.Minute) // its time comes: Swonkie publishes it
	rec = b.waitOver(rec.ID)
	if !hasEvent(rec, StepAttach, giveUp.String(), "") {
		t.Fatalf("the attach step did not give up, so the test proves nothing: %s", dump(rec))
	}
	b.checkOutAndSucceeded(rec)
}

// answerTooLate passes r to the sandbox, where it lands, calls landed (if
// any), and sends the answer on only after the client has given up on it.
func (b *bundle) answerTooLate(w http.ResponseWriter, r *http.Request, landed func()) bool {
	rec := httptest.NewRecorder()
	b.sb.Server.ServeHTTP(rec, r)
	if landed != nil {
		landed()
	}
	time.Sleep(b.callTimeout + time.Second)
	relay(w, rec)
	return true
}

// checkOutAndSucceeded stops the test unless rec's post went out (else the
// case it is about never happened) and rec ended succeeded with it.
func (b *bundle) checkOutAndSucceeded(rec *Record) {
	b.t.Helper()
	if info, _ := b.sb.Server.Post(rec.PostID); info.Post.Stage != swonkie.StagePublished {
		b.t.Fatalf("post %s is %s (deleted %v): the case this test is about never happened: %s", rec.PostID, info.Post.Stage, info.Deleted, dump(rec))
	}
	if rec.State != StateSucceeded || rec.PublishedAt == nil {
		b.t.Fatalf("ended %s (publishedAt %v) with its post out: %s", rec.State, rec.PublishedAt, dump(rec))
	}
}

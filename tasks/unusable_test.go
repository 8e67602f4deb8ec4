package tasks

import (
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// A create-media answered 2xx with a body the worker cannot use may have
// made an entry nobody can name (there is no list-media endpoint): the
// step stops after maxUnusable+1 of them, and each is counted as left
// behind, so the workspace holds at most 3 and the metrics say so.
func TestUnusableCreateMediaAnswersAreBoundedAndReported(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.sandbox.Faults = sandbox.FaultPlan{"POST /media": {BadBody: 1}}
	})
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if rec.State != StateFailed || rec.Error == nil || rec.Error.Step != StepUpload || !rec.Error.Permanent {
		t.Fatalf("ended %s", dump(rec))
	}
	st := b.sb.Server.Stats()
	made := len(st.Media.UnusableCreates)
	if made == 0 || made > maxUnusable+1 || st.Media.Created != made {
		t.Fatalf("%d media made by unusable answers (%d created in all); want 1..%d", made, st.Media.Created, maxUnusable+1)
	}
	if v := b.metricValue("mediaflow_media_left_behind_total", map[string]string{"reason": metrics.ReasonUnrecorded}); int(v) != made {
		t.Errorf("left_behind{reason=unrecorded} = %v, want %d", v, made)
	}
	b.assertClean()
}

// A create-post answered 2xx with an unusable body made the post: the
// retry adopts it (by the media it references) instead of making another.
func TestUnusableCreatePostAnswerIsAdopted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.sandbox.Faults = sandbox.FaultPlan{"POST /posts": {BadBody: 1}}
	})
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png")).ID)
	if rec.State != StateSucceeded || !hasEvent(rec, StepAttach, "ok", "adopted post") {
		t.Fatalf("ended %s", dump(rec))
	}
	st := b.sb.Server.Stats()
	if st.Posts.Created != 1 || st.Posts.DuplicatesByMedia() != 0 {
		t.Fatalf("%d posts created, %d duplicates; want 1 and 0", st.Posts.Created, st.Posts.DuplicatesByMedia())
	}
	b.assertClean()
}

// Lost replies on both creates, through the strict sandbox (list entries
// without briefing or media): still one post per pipeline, and only the
// media whose create reply never arrived are left.
func TestLostCreateRepliesMakeNoDuplicates(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.sandbox.Faults = sandbox.FaultPlan{"POST /posts": {LostReply: 0.5}, "POST /media": {LostReply: 0.3}}
	})
	ids := b.publishAllSucceed(8, "a.png", "b.png")
	st := b.sb.Server.Stats()
	if st.Posts.DuplicatesByMedia() != 0 || len(st.Posts.ByMediaSet) != len(ids) {
		t.Fatalf("%d media sets posted, %d duplicates; want %d and 0", len(st.Posts.ByMediaSet), st.Posts.DuplicatesByMedia(), len(ids))
	}
	t.Logf("lost media create replies (orphans Swonkie removes itself): %d; lost post replies: %d", len(st.Media.LostCreates), len(st.Posts.LostCreates))
	b.assertClean()
}

// A scheduled post's publishAt comes back to the millisecond: adoption must
// still recognise it (a request's publishAt carries nanoseconds).
func TestLostReplyOnAScheduledPostIsAdopted(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.sandbox.Faults = sandbox.FaultPlan{"POST /posts": {LostReply: 1}}
	})
	req := b.request(ActionSchedule, "a.png")
	at := time.Now().Add(3*time.Second + 123456789*time.Nanosecond)
	req.Post.PublishAt = &at
	rec := b.wait(b.publish(req).ID)
	if rec.State != StateSucceeded || !hasEvent(rec, StepAttach, "ok", "adopted post") {
		t.Fatalf("ended %s", dump(rec))
	}
	if st := b.sb.Server.Stats(); st.Posts.Created != 1 {
		t.Fatalf("%d posts created, want 1", st.Posts.Created)
	}
	b.assertClean()
}

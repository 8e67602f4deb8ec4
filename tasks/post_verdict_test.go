package tasks

import (
	"context"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// Swonkie's own verdict comes before the point of no return: a post that
// pre-flight passed (its profile was OK in the cached directory) but whose
// connection expired since is found invalid by GET /posts/{id}/validate.
// The pipeline fails at attach before any stage change, with Swonkie's
// reason; its post is withdrawn and its media deleted. Each action that
// publishes (schedule, publishNow) asks; a draft does not.
func TestInvalidVerdictFailsBeforeAnyStageChange(t *testing.T) {
	t.Parallel()
	for _, action := range []Action{ActionPublishNow, ActionSchedule} {
		t.Run(string(action), func(t *testing.T) {
			t.Parallel()
			b := setup(t, withPreflight)
			ctx := context.Background()
			if _, err := b.worker.RefreshProfiles(ctx); err != nil {
				t.Fatal(err)
			}
			// The connection breaks after the directory was cached: only
			// Swonkie knows.
			if err := b.sb.Server.SetProfileStatus(b.profiles[0], "EXPIRED"); err != nil {
				t.Fatal(err)
			}
			req := b.request(action, "a.png", "b.png")
			req.Post.ProfileIDs = b.profiles[:1]
			rec := b.wait(b.publish(req).ID)
			if rec.State != StateFailed || rec.Step != StepAttach || rec.Error == nil || !rec.Error.Permanent {
				t.Fatalf("want failed at attach, permanent: %s", dump(rec))
			}
			if rec.Preflight == nil || len(rec.Preflight.Problems) != 0 {
				t.Errorf("pre-flight should have passed on the cached directory: %+v", rec.Preflight)
			}
			// Swonkie's reason, as the sandbox words it.
			for _, want := range []string{"validate post " + rec.PostID, "cannot publish: its connection is EXPIRED"} {
				if !strings.Contains(rec.Error.Message, want) {
					t.Errorf("error %q does not say %q", rec.Error.Message, want)
				}
			}
			rec = b.waitRecord(rec.ID, "cleanup", func(r *Record) bool { return r.Cleanup == CleanupDone })
			st := b.sb.Server.Stats()
			if n := st.Requests["PATCH /posts/{id}/stage/{stage}"]; len(n) != 0 {
				t.Errorf("stage changes were asked: %v", n)
			}
			if n := st.Requests["GET /posts/{id}/validate"]; n[400]+n[200] == 0 {
				t.Errorf("validate was never asked: %v", st.Requests)
			}
			posts := b.sb.Server.AllPosts()
			if len(posts) != 1 || !posts[0].Deleted || posts[0].Post.ID != rec.PostID || !rec.PostWithdrawn {
				t.Errorf("posts %+v (record: withdrawn %v); want the one post, withdrawn", posts, rec.PostWithdrawn)
			}
			media := b.sb.Server.AllMedia()
			if len(media) != 2 {
				t.Errorf("%d media created, want 2", len(media))
			}
			for _, m := range media {
				if m.State != sandbox.StateDeleted {
					t.Errorf("media %+v remains", m)
				}
			}
			b.assertDeleted(rec)
			b.assertClean()
		})
	}

	// A draft is not judged: it is not going out.
	b := setup(t, withPreflight)
	if _, err := b.worker.RefreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.sb.Server.SetProfileStatus(b.profiles[0], "EXPIRED"); err != nil {
		t.Fatal(err)
	}
	req := b.request(ActionDraft, "a.png")
	req.Post.ProfileIDs = b.profiles[:1]
	if rec := b.wait(b.publish(req).ID); rec.State != StateSucceeded {
		t.Errorf("a draft to a profile whose connection expired: %s", dump(rec))
	}
	if n := b.sb.Server.Stats().Requests["GET /posts/{id}/validate"]; len(n) != 0 {
		t.Errorf("a draft was validated: %v", n)
	}
}

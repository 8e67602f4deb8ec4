package sandbox_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestStageActions(t *testing.T) {
	t.Parallel()
	future := time.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339)
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	type setup struct {
		publishAt string
		stage     swonkie.Stage // set through SetPostStage after create
		actions   []string      // applied first, each must succeed
		broken    bool          // delete its media after creation
	}
	tests := []struct {
		name      string
		setup     setup
		action    string
		want      int
		wantStage swonkie.Stage
	}{
		{"schedule a draft", setup{publishAt: future}, "schedule", http.StatusOK, swonkie.StageScheduled},
		{"schedule without publishAt", setup{}, "schedule", http.StatusBadRequest, swonkie.StageIdea},
		{"schedule in the past", setup{publishAt: past}, "schedule", http.StatusBadRequest, swonkie.StageDraft},
		{"schedule twice", setup{publishAt: future, actions: []string{"schedule"}}, "schedule", http.StatusConflict, swonkie.StageScheduled},
		{"schedule an invalid post", setup{publishAt: future, broken: true}, "schedule", http.StatusBadRequest, swonkie.StageDraft},
		{"schedule an archived post", setup{publishAt: future, stage: swonkie.StageArchive}, "schedule", http.StatusConflict, swonkie.StageArchive},
		{"schedule after approval", setup{publishAt: future, actions: []string{"teamReview", "approve"}}, "schedule", http.StatusOK, swonkie.StageScheduled},
		{"publishNow an idea", setup{}, "publishNow", http.StatusOK, swonkie.StageScheduled},
		{"publishNow a scheduled post", setup{publishAt: future, actions: []string{"schedule"}}, "publishNow", http.StatusOK, swonkie.StageScheduled},
		{"publishNow twice", setup{actions: []string{"publishNow"}}, "publishNow", http.StatusConflict, swonkie.StageScheduled},
		{"publishNow an invalid post", setup{broken: true}, "publishNow", http.StatusBadRequest, swonkie.StageIdea},
		{"publishNow a published post", setup{stage: swonkie.StagePublished}, "publishNow", http.StatusConflict, swonkie.StagePublished},
		{"unschedule", setup{publishAt: future, actions: []string{"schedule"}}, "unschedule", http.StatusOK, swonkie.StageDraft},
		{"unschedule a draft", setup{publishAt: future}, "unschedule", http.StatusConflict, swonkie.StageDraft},
		{"unschedule a publishNow", setup{actions: []string{"publishNow"}}, "unschedule", http.StatusConflict, swonkie.StageScheduled},
		{"team review", setup{}, "teamReview", http.StatusOK, swonkie.StageTeamReview},
		{"team review twice", setup{actions: []string{"teamReview"}}, "teamReview", http.StatusConflict, swonkie.StageTeamReview},
		{"team review an invalid post", setup{broken: true}, "teamReview", http.StatusBadRequest, swonkie.StageIdea},
		{"team review after revision", setup{actions: []string{"teamReview", "reject"}}, "teamReview", http.StatusOK, swonkie.StageTeamReview},
		{"approve", setup{actions: []string{"teamReview"}}, "approve", http.StatusOK, swonkie.StageTeamApproved},
		{"reject", setup{actions: []string{"teamReview"}}, "reject", http.StatusOK, swonkie.StageTeamRevision},
		{"approve client review", setup{stage: swonkie.StageClientReview}, "approve", http.StatusOK, swonkie.StageClientApproved},
		{"reject client review", setup{stage: swonkie.StageClientReview}, "reject", http.StatusOK, swonkie.StageClientRevision},
		{"approve outside review", setup{}, "approve", http.StatusConflict, swonkie.StageIdea},
		{"reject outside review", setup{publishAt: future}, "reject", http.StatusConflict, swonkie.StageDraft},
		{"unknown action", setup{}, "archive", http.StatusBadRequest, swonkie.StageIdea},
		{"action is case sensitive", setup{}, "PUBLISHNOW", http.StatusBadRequest, swonkie.StageIdea},
	}
	e := start(t, sandbox.Options{PublishDelay: time.Hour})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := e.readyMedia(testmedia.PNG(2, 2, 0))
			body := e.mediaPost(tt.name, m)
			if tt.setup.publishAt != "" {
				body["publishAt"] = tt.setup.publishAt
			}
			p := e.createPost(body)
			if tt.setup.stage != "" {
				if err := e.s.SetPostStage(p.ID, tt.setup.stage); err != nil {
					t.Fatal(err)
				}
			}
			for _, a := range tt.setup.actions {
				expect(t, e.stage(p.ID, a), http.StatusOK)
			}
			if tt.setup.broken {
				expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(m)}), http.StatusNoContent)
			}
			r := e.stage(p.ID, tt.action)
			expect(t, r, tt.want)
			if tt.want == http.StatusOK {
				var ok struct {
					Success bool          `json:"success"`
					Stage   swonkie.Stage `json:"stage"`
				}
				r.decode(t, &ok)
				if r.String() != `{"success":true}` {
					t.Fatalf("answer %s, want {\"success\":true}", r.body)
				}
			} else {
				r.errorBody(t)
			}
			if got := e.getPost(p.ID).Stage; got != tt.wantStage {
				t.Fatalf("stage %s after %s, want %s", got, tt.action, tt.wantStage)
			}
		})
	}
	expect(t, e.stage("UG9zdElk/none==", "schedule"), http.StatusNotFound)
}

// In the StageRefusalBadRequest shape a stage the action does not allow
// is a 400, like an invalid post; every other answer stays the same.
func TestStageRefusalShape(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{PublishDelay: time.Hour, StageRefusal: sandbox.StageRefusalBadRequest})
	p := e.createPost(e.mediaPost("twice", e.readyMedia(testmedia.PNG(2, 2, 0))))
	expect(t, e.stage(p.ID, "publishNow"), http.StatusOK)
	expect(t, e.stage(p.ID, "publishNow"), http.StatusBadRequest)
	expect(t, e.stage(p.ID, "unschedule"), http.StatusBadRequest)
	expect(t, e.stage(p.ID, "archive"), http.StatusBadRequest)
	expect(t, e.stage("UG9zdElk/none==", "schedule"), http.StatusNotFound)
	if got := e.getPost(p.ID).Stage; got != swonkie.StageScheduled {
		t.Fatalf("stage %s, want SCHEDULED", got)
	}
	if _, err := sandbox.New(sandbox.Options{APIID: "a", APIKey: "k", StageRefusal: 418}); err == nil {
		t.Fatal("a stage refusal status outside 409 and 400 was accepted")
	}
}

func TestScheduledPostPublishesAtPublishAt(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	m := e.readyMedia(testmedia.PNG(2, 2, 0))
	body := e.mediaPost("scheduled", m)
	body["profileIds"] = []string{e.ok[0].ID, e.ok[1].ID}
	body["publishAt"] = e.s.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)
	p := e.createPost(body)
	expect(t, e.stage(p.ID, "schedule"), http.StatusOK)

	e.advance(3*time.Hour - time.Minute)
	got := e.getPost(p.ID)
	if got.Stage != swonkie.StageScheduled || got.Profiles[0].PublishStatus != "" {
		t.Fatalf("a minute before publishAt: stage %s, publishStatus %q", got.Stage, got.Profiles[0].PublishStatus)
	}
	if st := e.s.Stats(); len(st.Media.Orphaned) != 1 {
		t.Fatalf("media of a scheduled post is not yet out: orphaned %v", st.Media.Orphaned)
	}
	e.advance(2 * time.Minute)
	got = e.getPost(p.ID)
	if got.Stage != swonkie.StagePublished || !got.PublishedEverywhere() {
		t.Fatalf("after publishAt: %+v", got)
	}
	for _, pr := range got.Profiles {
		if pr.PublishStatus != swonkie.PublishPublished {
			t.Fatalf("profile %s: %s", pr.Net.Code, pr.PublishStatus)
		}
	}
	info, _ := e.s.Post(p.ID)
	if !info.PublishedAt.Equal(got.PublishAt.Time) {
		t.Fatalf("published at %v, publishAt %v", info.PublishedAt, got.PublishAt)
	}
	// Published posts refuse changes, keep their media out of the orphans.
	expect(t, e.do(req{method: http.MethodPut, path: "/v2/posts/" + esc(p.ID), body: map[string]any{"briefing": map[string]string{"markdown": "x"}}}), http.StatusConflict)
	expect(t, e.stage(p.ID, "schedule"), http.StatusConflict)
	expect(t, e.stage(p.ID, "unschedule"), http.StatusConflict)
	if st := e.s.Stats(); len(st.Media.Orphaned) != 0 || st.Posts.Published != 1 {
		t.Fatalf("after publishing: %+v", st)
	}
}

func TestPublishNowTakesPublishDelay(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{PublishDelay: 10 * time.Minute})
	m := e.readyMedia(testmedia.PNG(2, 2, 0))
	p := e.createPost(e.mediaPost("now", m))
	expect(t, e.stage(p.ID, "publishNow"), http.StatusOK)
	got := e.getPost(p.ID)
	if got.Stage != swonkie.StageScheduled || got.Profiles[0].PublishStatus != swonkie.PublishPending {
		t.Fatalf("right after publishNow: stage %s, publishStatus %q", got.Stage, got.Profiles[0].PublishStatus)
	}
	expect(t, e.do(req{method: http.MethodPut, path: "/v2/posts/" + esc(p.ID), body: map[string]any{}}), http.StatusConflict)
	e.advance(9 * time.Minute)
	if got := e.getPost(p.ID); got.Stage != swonkie.StageScheduled {
		t.Fatalf("9 of 10 minutes in: %s", got.Stage)
	}
	e.advance(2 * time.Minute)
	if got := e.getPost(p.ID); got.Stage != swonkie.StagePublished || got.Profiles[0].PublishStatus != swonkie.PublishPublished {
		t.Fatalf("after PublishDelay: %+v", got)
	}
}

// TestEarlyCleanupFailsPublication: a media deleted (or not yet ready)
// when the post goes out makes every profile ERROR and the post stays
// unpublished, even if nobody looks until much later.
func TestEarlyCleanupFailsPublication(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	m := e.readyMedia(testmedia.PNG(2, 2, 0))
	kept := e.readyMedia(testmedia.PNG(3, 3, 0))
	at := e.s.Now().Add(time.Hour).UTC().Format(time.RFC3339)

	early := e.mediaPost("early cleanup", m)
	early["publishAt"] = at
	p := e.createPost(early)
	expect(t, e.stage(p.ID, "schedule"), http.StatusOK)

	late := e.mediaPost("late cleanup", kept)
	late["publishAt"] = at
	q := e.createPost(late)
	expect(t, e.stage(q.ID, "schedule"), http.StatusOK)

	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(m)}), http.StatusNoContent)
	e.advance(2 * time.Hour)
	// Deleting kept after its post went out (but before anyone looked)
	// does not undo the publication.
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(kept)}), http.StatusNoContent)

	got := e.getPost(p.ID)
	if got.Stage == swonkie.StagePublished {
		t.Fatal("a post whose media was deleted was published")
	}
	if pr, failed := got.PublishFailed(); !failed || pr.PublishStatus != swonkie.PublishError {
		t.Fatalf("profiles after a failed publication: %+v", got.Profiles)
	}
	if info, _ := e.s.Post(p.ID); info.PublishError == "" {
		t.Fatal("no publish error in introspection")
	}
	if got := e.getPost(q.ID); got.Stage != swonkie.StagePublished {
		t.Fatalf("post whose media was deleted after publication: %s", got.Stage)
	}
	st := e.s.Stats().Posts
	if st.Published != 1 || st.PublishFailed != 1 {
		t.Fatalf("published %d, failed %d", st.Published, st.PublishFailed)
	}
	// A failed post can be unscheduled and tried again.
	expect(t, e.stage(p.ID, "unschedule"), http.StatusOK)
	if got := e.getPost(p.ID); got.Stage != swonkie.StageDraft || got.Profiles[0].PublishStatus != "" {
		t.Fatalf("after unscheduling a failed post: %+v", got)
	}
}

// TestExpiredProfileFailsAlone: a profile that lost its connection before
// publication fails; the others publish.
func TestExpiredProfileFailsAlone(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{PublishDelay: time.Minute})
	m := e.readyMedia(testmedia.PNG(2, 2, 0))
	body := e.mediaPost("two profiles", m)
	body["profileIds"] = []string{e.ok[0].ID, e.ok[1].ID}
	p := e.createPost(body)
	expect(t, e.stage(p.ID, "publishNow"), http.StatusOK)
	if err := e.s.SetProfileStatus(e.ok[1].ID, "EXPIRED"); err != nil {
		t.Fatal(err)
	}
	e.advance(2 * time.Minute)
	got := e.getPost(p.ID)
	if got.Stage != swonkie.StagePublished || got.Profiles[0].PublishStatus != swonkie.PublishPublished ||
		got.Profiles[1].PublishStatus != swonkie.PublishError || got.PublishedEverywhere() {
		t.Fatalf("partly failed publication: %+v", got)
	}
}

func TestRescheduleMovesPublication(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	m := e.readyMedia(testmedia.PNG(2, 2, 0))
	body := e.mediaPost("moved", m)
	body["publishAt"] = e.s.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	p := e.createPost(body)
	expect(t, e.stage(p.ID, "schedule"), http.StatusOK)
	r := e.do(req{method: http.MethodPut, path: "/v2/posts/" + esc(p.ID),
		body: map[string]any{"publishAt": e.s.Now().Add(-time.Minute).UTC().Format(time.RFC3339)}})
	expect(t, r, http.StatusBadRequest)
	r = e.do(req{method: http.MethodPut, path: "/v2/posts/" + esc(p.ID),
		body: map[string]any{"publishAt": e.s.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)}})
	expect(t, r, http.StatusOK)
	e.advance(2 * time.Hour)
	if got := e.getPost(p.ID); got.Stage != swonkie.StageScheduled {
		t.Fatalf("published at the old publishAt: %s", got.Stage)
	}
	e.advance(2 * time.Hour)
	if got := e.getPost(p.ID); got.Stage != swonkie.StagePublished {
		t.Fatalf("not published at the new publishAt: %s", got.Stage)
	}
	// Unscheduled posts do not publish.
	q := e.createPost(func() map[string]any {
		b := e.mediaPost("stopped", m)
		b["publishAt"] = e.s.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		return b
	}())
	expect(t, e.stage(q.ID, "schedule"), http.StatusOK)
	expect(t, e.stage(q.ID, "unschedule"), http.StatusOK)
	e.advance(2 * time.Hour)
	if got := e.getPost(q.ID); got.Stage != swonkie.StageDraft {
		t.Fatalf("unscheduled post is %s", got.Stage)
	}
}

func TestValidateEndpoint(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	m := e.readyMedia(testmedia.PNG(2, 2, 0))
	p := e.createPost(e.mediaPost("v", m))
	before, _ := e.s.Post(p.ID)
	r := e.get("/v2/posts/" + esc(p.ID) + "/validate")
	expect(t, r, http.StatusOK)
	if r.String() != `{"valid":true,"errors":[]}` {
		t.Fatalf("valid post: %s", r.body)
	}
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(m)}), http.StatusNoContent)
	r = e.get("/v2/posts/" + esc(p.ID) + "/validate")
	expect(t, r, http.StatusBadRequest)
	var v struct {
		Valid  *bool             `json:"valid"`
		Errors []swonkie.Problem `json:"errors"`
	}
	r.decode(t, &v)
	if v.Valid == nil || *v.Valid || len(v.Errors) != 1 || v.Errors[0].Field != "medias[0].mediaFiles[0].mediaLibId" {
		t.Fatalf("post with a deleted media: %s", r.body)
	}
	if got, _ := e.s.Post(p.ID); got.Post.Stage != swonkie.StageIdea || !got.Post.UpdatedAt.Equal(before.Post.UpdatedAt.Time) {
		t.Fatal("validate changed the post")
	}
	expect(t, e.get("/v2/posts/UG9zdElk/validate"), http.StatusNotFound)
}

package tasks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Pre-flight checks a pipeline's profiles in its own workspace's
// directory, fetched through its own workspace's client: a profile of
// the second workspace named in a request for the first is refused, at
// enqueue once the directories are cached and by the pre-flight step
// before; the same profile in a request for its own workspace publishes.
func TestPreflightChecksEachPipelineInItsOwnWorkspace(t *testing.T) {
	t.Parallel()
	for _, cached := range []bool{false, true} {
		name := "no directory cached"
		if cached {
			name = "directories cached"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withPreflight, withSecondWorkspace)
			ctx := context.Background()
			if b.second.profiles[0] == b.profiles[0] {
				t.Fatal("the two sandbox workspaces share a profile id; the test cannot tell them apart")
			}
			if cached {
				if _, err := b.worker.RefreshProfiles(ctx); err != nil {
					t.Fatal(err)
				}
				for _, ws := range []string{DefaultWorkspace, secondName} {
					if d, err := b.client.ProfileDirectory(ctx, ws); err != nil || d == nil || d.Workspace != ws {
						t.Fatalf("the worker did not refresh workspace %s's directory: %+v, %v", ws, d, err)
					}
				}
			}

			// The second workspace's profile, in a request for the first.
			foreign := b.request(ActionPublishNow, "a.png")
			foreign.Workspace = DefaultWorkspace
			foreign.Post.ProfileIDs = []string{b.profiles[0], b.second.profiles[0]}
			rec, _, err := b.client.Publish(ctx, foreign)
			if cached {
				var ve *ValidationError
				if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "post.profileIds[1]" ||
					!strings.Contains(ve.Problems[0].Message, "not a profile of workspace "+DefaultWorkspace) {
					t.Errorf("a profile of %s in a request for %s: Publish answered %v; want it refused on post.profileIds[1]", secondName, DefaultWorkspace, err)
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				rec = b.wait(rec.ID)
				if rec.State != StateFailed || rec.Step != StepPreflight || rec.Preflight == nil || len(rec.Preflight.Problems) != 1 ||
					rec.Preflight.Problems[0].Rule != RuleProfileKnown || rec.Preflight.Problems[0].Value != b.second.profiles[0] {
					t.Errorf("a profile of %s in a request for %s: want failed at pre-flight naming it: %s", secondName, DefaultWorkspace, dump(rec))
				}
			}

			// The same profiles in their own workspace publish.
			// (Instagram takes no PNG: the second workspace's profiles
			// on other networks.)
			own := b.inSecond(b.request(ActionPublishNow, "a.png"))
			own.Post.ProfileIDs = nil
			for _, p := range b.second.sb.Server.Profiles() {
				if p.StatusLevel == swonkie.StatusOK && p.Net.Code != "instagram" && len(own.Post.ProfileIDs) < 2 {
					own.Post.ProfileIDs = append(own.Post.ProfileIDs, p.ID)
				}
			}
			rec, _, err = b.client.Publish(ctx, own)
			if err != nil {
				t.Fatalf("a request for %s naming its own profiles: %v", secondName, err)
			}
			if rec = b.wait(rec.ID); rec.State != StateSucceeded {
				t.Errorf("a request for %s naming its own profiles: %s", secondName, dump(rec))
			}
			if n := len(b.sb.Server.AllMedia()); n != 0 {
				t.Errorf("the first workspace's sandbox saw %d media; the second's pipeline must go to its own", n)
			}
		})
	}
}

// An edit (or a replay's) naming a profile its workspace's directory does
// not list is refused as Publish refuses it, before anything changes: an
// edit accepted with another workspace's profile failed the pipeline at
// attach and withdrew the post it had scheduled.
func TestEditNamingAnotherWorkspacesProfileIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, withPreflight, withSecondWorkspace)
	ctx := context.Background()
	if _, err := b.worker.RefreshProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	req := b.request(ActionSchedule, "a.png")
	req.Workspace = DefaultWorkspace
	req.Post.ProfileIDs = nil
	for _, p := range b.sb.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK && p.Net.Code != "instagram" && len(req.Post.ProfileIDs) < 1 {
			req.Post.ProfileIDs = append(req.Post.ProfileIDs, p.ID)
		}
	}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	req.Post.PublishAt = &at
	rec := b.waitRecord(b.publish(req).ID, "scheduled", func(r *Record) bool { return r.Staged })
	foreign := Edit{Post: &PostEdit{ProfileIDs: []string{b.second.profiles[0]}}}
	_, err := b.client.Edit(ctx, rec.ID, foreign, "tester")
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "post.profileIds[0]" {
		t.Fatalf("an edit naming %s's profile: %v; want it refused on post.profileIds[0]", secondName, err)
	}
	after, err := b.client.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Staged || after.State.Terminal() || !slices.Equal(after.Request.Post.ProfileIDs, req.Post.ProfileIDs) {
		t.Errorf("after the refused edit: %s", dump(after))
	}
	if _, err := b.client.Cancel(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	if rec = b.waitOver(rec.ID); rec.State != StateCancelled {
		t.Fatalf("cancelled: %s", dump(rec))
	}
	if _, err := b.client.Replay(ctx, rec.ID, foreign, "tester"); !errors.As(err, &ve) {
		t.Errorf("a replay naming %s's profile: %v; want it refused", secondName, err)
	}
}

// A replay runs pre-flight again: the pipeline's request (edited, or
// unchanged while the workspace changed) is checked before anything is
// made, as the first attempt's was. The replay of a pipeline that failed
// at pre-flight skipped it (its facts were kept), uploaded its media and
// sent Swonkie a post pre-flight refuses.
func TestReplayRunsPreflightAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, withPreflight)
	ctx := context.Background()
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = []string{"UHJvZmlsZUlkbm9zdWNo"}
	rec := b.waitOver(b.publish(req).ID)
	if rec.State != StateFailed || rec.Step != StepPreflight {
		t.Fatalf("with an unknown profile: %s", dump(rec))
	}
	if _, err := b.client.Replay(ctx, rec.ID, Edit{}, "tester"); err != nil {
		t.Fatal(err)
	}
	rec = b.waitOver(rec.ID)
	if rec.State != StateFailed || rec.Step != StepPreflight || rec.Replays != 1 || rec.Preflight == nil || len(rec.Preflight.Problems) != 1 {
		t.Errorf("the replay, unchanged: %s; want it failed at pre-flight again", dump(rec))
	}
	if st := b.sb.Server.Stats(); st.Media.Created != 0 || st.Posts.Created != 0 {
		t.Errorf("%d media and %d posts made for a request pre-flight refuses", st.Media.Created, st.Posts.Created)
	}
}

// An edit pre-flight would refuse on the networks' rules (a caption too
// long for LinkedIn, a PNG to Instagram) is refused before anything
// changes: pre-flight does not run again for an edit, and accepted, it
// replaced a post already scheduled by one its networks refuse.
func TestEditBreakingTheNetworksRulesIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, withPreflight)
	ctx := context.Background()
	if _, err := b.worker.RefreshProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	var linkedin, instagram string
	for _, p := range b.sb.Server.Profiles() {
		switch {
		case p.StatusLevel != swonkie.StatusOK:
		case p.Net.Code == "linkedin" && linkedin == "":
			linkedin = p.ID
		case p.Net.Code == "instagram" && instagram == "":
			instagram = p.ID
		}
	}
	if linkedin == "" || instagram == "" {
		t.Fatal("the sandbox has no LinkedIn or no Instagram profile")
	}
	req := b.request(ActionSchedule, "a.png")
	req.Post.ProfileIDs = []string{linkedin}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	req.Post.PublishAt = &at
	rec := b.waitRecord(b.publish(req).ID, "scheduled", func(r *Record) bool { return r.Staged })
	long := strings.Repeat("a", 3001)
	for name, e := range map[string]Edit{
		"a caption over LinkedIn's 3000": {Post: &PostEdit{Caption: &long}},
		"a PNG to Instagram":             {Post: &PostEdit{ProfileIDs: []string{linkedin, instagram}}},
	} {
		_, err := b.client.Edit(ctx, rec.ID, e, "tester")
		if ve := (*ValidationError)(nil); !errors.As(err, &ve) {
			t.Errorf("%s: the edit answered %v; want it refused", name, err)
		}
	}
	after, err := b.client.Get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !after.Staged || after.State.Terminal() || after.Request.Post.Caption != req.Post.Caption || len(after.Request.Post.ProfileIDs) != 1 {
		t.Errorf("after the refused edits: %s", dump(after))
	}
	ok := "a caption LinkedIn takes"
	if _, err := b.client.Edit(ctx, rec.ID, Edit{Post: &PostEdit{Caption: &ok}}, "tester"); err != nil {
		t.Errorf("an edit the rules allow: %v", err)
	}
}

// An edit of a pipeline that is winding up (a step gave up on its staged
// post, which its cleanup is withdrawing) is refused as finished whatever
// it says, as one of a pipeline that ended or is being cancelled is: it
// was checked against the directory first, and an edit naming a profile
// the workspace cannot publish to was answered 400, telling the caller to
// fix an edit that can never apply.
func TestEditOfAWindingUpPipelineIsRefusedAsFinished(t *testing.T) {
	t.Parallel()
	b := setup(t, withPreflight, withSecondWorkspace)
	ctx := context.Background()
	if _, err := b.worker.RefreshProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	req := b.request(ActionSchedule, "a.png")
	req.Workspace = DefaultWorkspace
	req.Post.ProfileIDs = nil
	for _, p := range b.sb.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK && p.Net.Code != "instagram" && len(req.Post.ProfileIDs) < 1 {
			req.Post.ProfileIDs = append(req.Post.ProfileIDs, p.ID)
		}
	}
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	req.Post.PublishAt = &at
	rec := b.waitRecord(b.publish(req).ID, "scheduled", func(r *Record) bool { return r.Staged })
	full, err := b.client.store.get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.store.update(ctx, full, func(r *Record) error {
		r.in.GaveUp = true // as a watch that gave up on it leaves it
		r.Error = &StepError{Step: StepPublish, Message: "gave up", Permanent: true, At: time.Now().UTC()}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	foreign := Edit{Post: &PostEdit{ProfileIDs: []string{b.second.profiles[0]}}}
	if _, err := b.client.Edit(ctx, rec.ID, foreign, "tester"); !errors.Is(err, ErrFinished) {
		t.Fatalf("an edit of a winding-up pipeline: %v; want ErrFinished", err)
	}
}

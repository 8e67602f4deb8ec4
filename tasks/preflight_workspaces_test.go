package tasks

import (
	"context"
	"errors"
	"strings"
	"testing"

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

package tasks

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
	"github.com/mediaflow/mediaflow/swonkie"
)

// A pipeline that cannot publish fails in pre-flight, before any Swonkie
// object exists, with every problem listed (item, network, rule, value,
// limit) and, for a network's rule, its source named.
func TestPreflightFailsWhatCannotPublishBeforeCreatingAnything(t *testing.T) {
	t.Parallel()
	if err := ffmpegtest.Require(); err != nil {
		t.Fatal(err)
	}
	const igReelSource = "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media"
	tests := []struct {
		name  string
		req   func(b *bundle) Request
		want  []Finding // Item, Network, Rule, Value and Source must match; Limit must be set
		watch string    // in the record's error
	}{
		{
			name: "a 2 s video as an Instagram Reel",
			req: func(b *bundle) Request {
				r := b.request(ActionPublishNow, "short.mp4")
				r.Post.Type, r.Post.ProfileIDs = TypeReel, b.profiles[1:2]
				return r
			},
			want:  []Finding{{Item: "media[0] (short.mp4)", Network: "instagram", Rule: "video.seconds", Value: "2s", Source: igReelSource}},
			watch: igReelSource,
		},
		{
			name: "an unknown profile, no directory cached",
			req: func(b *bundle) Request {
				r := b.request(ActionPublishNow, "a.png")
				r.Post.ProfileIDs = []string{b.profiles[0], "bm90LWEtcHJvZmlsZQ=="}
				return r
			},
			want:  []Finding{{Item: "post.profileIds[1]", Rule: RuleProfileKnown, Value: "bm90LWEtcHJvZmlsZQ=="}},
			watch: "bm90LWEtcHJvZmlsZQ==",
		},
		{
			name: "an expired profile and a missing file at once",
			req: func(b *bundle) Request {
				r := b.request(ActionPublishNow, "a.png", "gone.png")
				r.Post.ProfileIDs = []string{b.profiles[0], b.expired}
				return r
			},
			want: []Finding{{Item: "post.profileIds[1]", Network: "facebook", Rule: RuleProfileConnected, Value: "EXPIRED"},
				{Item: "media[1] (gone.png)", Rule: RuleSourceReadable, Value: "gone.png"}},
			watch: "EXPIRED",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withPreflight)
			if err := ffmpegtest.MakeVideo(filepath.Join(b.root, "short.mp4"), ffmpegtest.Video{Width: 1080, Height: 1920, Seconds: 2}); err != nil {
				t.Fatal(err)
			}
			if d, err := b.client.ProfileDirectory(context.Background(), ""); err != nil || d != nil {
				t.Fatalf("a profile directory is cached before the test: %+v, %v", d, err)
			}
			rec := b.wait(b.publish(tt.req(b)).ID)
			if rec.State != StateFailed || rec.Step != StepPreflight || rec.Error == nil || !rec.Error.Permanent {
				t.Fatalf("want failed at preflight, permanent: %s", dump(rec))
			}
			if !strings.Contains(rec.Error.Message, tt.watch) {
				t.Errorf("error %q does not name %q", rec.Error.Message, tt.watch)
			}
			if rec.Preflight == nil || len(rec.Preflight.Problems) != len(tt.want) {
				t.Fatalf("pre-flight problems %+v, want %d", rec.Preflight, len(tt.want))
			}
			for _, w := range tt.want {
				if !slices.ContainsFunc(rec.Preflight.Problems, func(f Finding) bool {
					return f.Severity == "error" && f.Item == w.Item && f.Network == w.Network && f.Rule == w.Rule &&
						f.Value == w.Value && f.Source == w.Source && (f.Limit != "" || f.Rule == RuleSourceReadable)
				}) {
					t.Errorf("no problem like %+v among %+v", w, rec.Preflight.Problems)
				}
			}
			if n := len(b.sb.Server.AllMedia()); n != 0 {
				t.Errorf("the sandbox saw %d media created; pre-flight must fail before any", n)
			}
			if n := len(b.sb.Server.AllPosts()); n != 0 {
				t.Errorf("the sandbox saw %d posts created", n)
			}
			if rec.Cleanup != CleanupDone {
				t.Errorf("cleanup %q, want done (nothing to undo)", rec.Cleanup)
			}
		})
	}
}

// Once a worker cached the workspace's profile directory, a request
// naming a profile not in it, or one whose connection broke, is refused
// at enqueue, naming the profile; nothing is stored or queued.
func TestUnknownProfileIsRefusedAtEnqueueOnceCached(t *testing.T) {
	t.Parallel()
	b := setup(t, withPreflight)
	if _, err := b.worker.RefreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, id, want string
	}{
		{"unknown", "bm90LWEtcHJvZmlsZQ==", "not a profile of workspace default"},
		{"expired", b.expired, "its connection is EXPIRED"},
	} {
		req := b.request(ActionPublishNow, "a.png")
		req.Post.ProfileIDs = []string{b.profiles[0], tt.id}
		_, _, err := b.client.Publish(context.Background(), req)
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "post.profileIds[1]" ||
			!strings.Contains(ve.Problems[0].Message, tt.id) || !strings.Contains(ve.Problems[0].Message, tt.want) {
			t.Errorf("%s profile: Publish answered %v; want a validation error on post.profileIds[1] naming it", tt.name, err)
		}
	}
	// A profile connected since the cache was written is not refused by
	// a stale directory for long: the worker's refresh takes it in.
	if err := b.sb.Server.SetProfileStatus(b.expired, swonkie.StatusOK); err != nil {
		t.Fatal(err)
	}
	if _, err := b.worker.RefreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	req := b.request(ActionDraft, "a.png")
	req.Post.ProfileIDs = []string{b.profiles[0], b.expired}
	if _, _, err := b.client.Publish(context.Background(), req); err != nil {
		t.Errorf("a reconnected profile is still refused after a refresh: %v", err)
	}
}

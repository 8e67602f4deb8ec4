package tasks

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestHappyPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		action  Action
		files   []string
		cleanup CleanupPolicy
		// what the end looks like
		wantStage   swonkie.Stage
		wantDeleted bool
		wantCleanup string
	}{
		{"one media, publish now", ActionPublishNow, []string{"a.png"}, "", swonkie.StagePublished, true, "done"},
		{"several media, schedule", ActionSchedule, []string{"a.png", "b.png", "c.png"}, "", swonkie.StagePublished, true, "done"},
		{"publish now, keep media", ActionPublishNow, []string{"a.png", "b.png"}, CleanupNever, swonkie.StagePublished, false, "kept"},
		{"draft keeps its media", ActionDraft, []string{"b.png"}, "", swonkie.StageIdea, false, "kept"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			req := b.request(tt.action, tt.files...)
			req.Cleanup = tt.cleanup
			rec := b.publish(req)
			if rec.State != StatePending || len(rec.Media) != len(tt.files) {
				t.Fatalf("accepted record: %s", dump(rec))
			}
			rec = b.wait(rec.ID)
			if rec.State != StateSucceeded || rec.Step != StepDone || rec.Error != nil {
				t.Fatalf("pipeline ended %s", dump(rec))
			}
			if string(rec.Cleanup) != tt.wantCleanup {
				t.Errorf("cleanup = %q, want %q", rec.Cleanup, tt.wantCleanup)
			}
			post, ok := b.sb.Server.Post(rec.PostID)
			if !ok || post.Post.Stage != tt.wantStage {
				t.Fatalf("post %s: %+v", rec.PostID, post)
			}
			if got, want := post.Post.MediaLibIDs(), rec.mediaIDs(); !slices.Equal(got, want) {
				t.Errorf("post media %v, record media %v", got, want)
			}
			for i, m := range rec.Media {
				info, _ := b.sb.Server.Media(m.MediaID)
				if m.Status != ItemReady || m.Bytes == 0 || m.Bytes != info.Bytes {
					t.Errorf("item %d: %+v; sandbox %+v", i, m, info)
				}
				if deleted := info.State == sandbox.StateDeleted; deleted != tt.wantDeleted || m.Deleted != tt.wantDeleted {
					t.Errorf("item %d: sandbox state %s, record deleted=%v; want deleted=%v", i, info.State, m.Deleted, tt.wantDeleted)
				}
			}
			if tt.action != ActionDraft && (rec.AttachedAt == nil || rec.PublishedAt == nil || rec.PublishedAt.Before(*rec.AttachedAt)) {
				t.Errorf("timestamps: attached %v published %v", rec.AttachedAt, rec.PublishedAt)
			}
			if st := b.sb.Server.Stats(); st.Posts.Created != 1 || st.Media.Created != len(tt.files) {
				t.Errorf("sandbox saw %d posts and %d media created, want 1 and %d", st.Posts.Created, st.Media.Created, len(tt.files))
			}
			if tt.wantDeleted {
				b.assertClean()
			}
		})
	}
}

func TestAttachToExistingPost(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// A post of the caller's, with a media of its own.
	own := b.publish(b.request(ActionDraft, "a.png"))
	own = b.wait(own.ID)
	mine := b.request(ActionSchedule, "b.png", "c.png")
	at := time.Now().Add(3 * time.Second)
	if _, err := b.api.UpdatePost(context.Background(), own.PostID, swonkie.PostInput{PublishAt: swonkie.NewTime(at)}); err != nil {
		t.Fatal(err)
	}
	mine.Post, mine.PostID = nil, own.PostID
	rec := b.wait(b.publish(mine).ID)
	if rec.State != StateSucceeded || rec.PostID != own.PostID || rec.PostCreated {
		t.Fatalf("ended %s, post %s created=%v", dump(rec), rec.PostID, rec.PostCreated)
	}
	post, _ := b.sb.Server.Post(own.PostID)
	want := append(own.mediaIDs(), rec.mediaIDs()...)
	if got := post.Post.MediaLibIDs(); !slices.Equal(got, want) {
		t.Fatalf("post media %v, want the caller's then ours %v", got, want)
	}
	if post.Post.Stage != swonkie.StagePublished {
		t.Fatalf("post stage %s", post.Post.Stage)
	}
	// Ours were deleted after publication; the caller's stay.
	b.assertDeleted(rec)
	if info, _ := b.sb.Server.Media(own.Media[0].MediaID); info.State == sandbox.StateDeleted {
		t.Fatal("the caller's media was deleted")
	}
	if st := b.sb.Server.Stats(); st.Posts.Created != 1 {
		t.Fatalf("%d posts created, want 1", st.Posts.Created)
	}
}

// Two pipelines adding their media to one post of the caller's at once:
// each reads the post's media and writes the whole list back, so without
// the post's lock the second write drops the first's media (both
// pipelines still succeeding). The first PUT is held until the second
// pipeline reads the post, or 1.5 s when the lock keeps it from reading.
func TestTwoPipelinesAddToOneCallersPost(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	var (
		armed            atomic.Bool
		postID           atomic.Value
		reads, writes    atomic.Int32
		readWhileWriting = make(chan struct{})
	)
	isPost := func(r *http.Request) bool {
		id, _ := postID.Load().(string)
		return armed.Load() && id != "" && strings.HasSuffix(r.URL.Path, "/posts/"+id)
	}
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case isPost(r) && r.Method == http.MethodGet:
			if reads.Add(1) == 2 && writes.Load() == 1 {
				close(readWhileWriting)
			}
		case isPost(r) && r.Method == http.MethodPut && writes.Add(1) == 1:
			select {
			case <-readWhileWriting:
			case <-time.After(1500 * time.Millisecond):
			}
		}
		return false
	})
	own := b.wait(b.publish(b.request(ActionDraft, "a.png")).ID)
	postID.Store(own.PostID)
	armed.Store(true)
	var recs []*Record
	for _, file := range []string{"b.png", "c.png"} {
		req := b.request(ActionDraft, file)
		req.Post, req.PostID = nil, own.PostID
		recs = append(recs, b.publish(req))
	}
	want := own.mediaIDs()
	for i, rec := range recs {
		recs[i] = b.wait(rec.ID)
		mustSucceed(t, recs[i])
		want = append(want, recs[i].mediaIDs()...)
	}
	post, _ := b.sb.Server.Post(own.PostID)
	got := post.Post.MediaLibIDs()
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("the post holds media %v, want the caller's and both pipelines' %v", got, want)
	}
}

func TestIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	req := b.request(ActionPublishNow, "a.png")
	req.Key = "order-1234"
	first, created, err := b.client.Publish(ctx, req)
	if err != nil || !created {
		t.Fatalf("first publish: created=%v err=%v", created, err)
	}
	again, created, err := b.client.Publish(ctx, req)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("same key: id %s vs %s, created=%v err=%v", again.ID, first.ID, created, err)
	}
	other := req
	other.Post = &PostSpec{ProfileIDs: b.profiles[:1], Caption: "something else"}
	if _, _, err := b.client.Publish(ctx, other); !errors.Is(err, ErrKeyReused) {
		t.Fatalf("same key, different request: %v", err)
	}
	rec := b.wait(first.ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	// After the pipeline ran, the key still answers the same pipeline and
	// runs nothing again.
	late, created, err := b.client.Publish(ctx, req)
	if err != nil || created || late.ID != first.ID || late.State != StateSucceeded {
		t.Fatalf("late retry: %v %v %v", late, created, err)
	}
	time.Sleep(300 * time.Millisecond)
	if st := b.sb.Server.Stats(); st.Posts.Created != 1 || st.Media.Created != 1 {
		t.Fatalf("sandbox: %d posts, %d media; want 1 and 1", st.Posts.Created, st.Media.Created)
	}
}

func TestInvalidRequestEnqueuesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	bad := []Request{
		{},
		{Media: []MediaSource{{Source: "../outside.png"}}, Post: &PostSpec{ProfileIDs: []string{"p"}, Caption: "x"}, Action: ActionPublishNow},
		{Media: []MediaSource{{Source: "ftp://host/a.png"}}, Post: &PostSpec{ProfileIDs: []string{"p"}, Caption: "x"}, Action: ActionPublishNow},
	}
	for _, req := range bad {
		var ve *ValidationError
		if _, _, err := b.client.Publish(ctx, req); !errors.As(err, &ve) {
			t.Errorf("publish %+v: want a validation error, got %v", req, err)
		}
	}
	keys, err := b.redis.Client.Keys(ctx, "*").Result()
	if err != nil || len(keys) != 0 {
		t.Fatalf("Redis holds %v after invalid requests", keys)
	}
}

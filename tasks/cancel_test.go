package tasks

import (
	"bytes"
	"image"
	pngenc "image/png"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"

	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestCancelScheduledPipelineWithdrawsEverything(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.request(ActionSchedule, "a.png", "b.png")
	at := time.Now().Add(time.Hour)
	req.Post.PublishAt = &at
	rec := b.publish(req)
	rec = b.waitRecord(rec.ID, "the post to be scheduled", func(r *Record) bool { return r.Staged })
	if rec.PostStage != string(swonkie.StageScheduled) {
		t.Fatalf("post stage %q", rec.PostStage)
	}
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.wait(rec.ID)
	if rec.State != StateCancelled || !rec.PostWithdrawn || rec.Cleanup != "done" {
		t.Fatalf("ended %s", dump(rec))
	}
	// The post is gone: the record no longer says where it stood.
	if rec.PostStage != "" {
		t.Errorf("postStage %q after the post was deleted, want none", rec.PostStage)
	}
	if post, _ := b.sb.Server.Post(rec.PostID); !post.Deleted {
		t.Fatalf("post %s still exists: %+v", rec.PostID, post.Post.Stage)
	}
	b.assertDeleted(rec)
	b.assertClean()
	if _, err := b.client.Cancel(context.Background(), rec.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancel twice: %v", err)
	}
}

// A cancel through Client.Cancel is a fact (cancelRequested); the worker
// write that finds it complete ends the pipeline, once: one count in
// mediaflow_pipelines_finished_total and one pipeline.cancelled event,
// however many cleanups and sweeps look at it afterwards (docs/design.md,
// I8).
func TestCancelEndsWithItsMetricsAndWebhookOnce(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t)
	rcv := newReceiver(t)
	req := b.request(ActionSchedule, "a.png", "b.png")
	at := time.Now().Add(time.Hour)
	req.Post.PublishAt = &at
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL}
	rec := b.waitRecord(b.publish(req).ID, "the post to be scheduled", func(r *Record) bool { return r.Staged })
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.wait(rec.ID)
	if rec.State != StateCancelled {
		t.Fatalf("ended %s", dump(rec))
	}
	b.waitRecord(rec.ID, "the event", func(r *Record) bool { return r.Webhook != nil && len(r.owedNotices()) == 0 })
	if _, err := b.worker.RunSweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Cancel(context.Background(), rec.ID); !errors.Is(err, ErrFinished) {
		t.Fatalf("cancel twice: %v", err)
	}
	if v := b.metricReaches("mediaflow_pipelines_finished_total", map[string]string{"state": "cancelled"}, 1); v != 1 {
		t.Errorf("finished{cancelled} = %v, want 1", v)
	}
	var events []string
	for _, d := range rcv.deliveries() {
		events = append(events, d.event.Type)
	}
	if !slices.Equal(events, []string{EventCancelled}) {
		t.Errorf("events delivered %v, want one pipeline.cancelled", events)
	}
}

func TestCancelBeforeAnyStepCreatesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: testTiming})
	rec = b.wait(rec.ID)
	if rec.State != StateCancelled {
		t.Fatalf("ended %s", dump(rec))
	}
	time.Sleep(200 * time.Millisecond)
	if st := b.sb.Server.Stats(); st.Media.Created != 0 || st.Posts.Created != 0 {
		t.Fatalf("a cancelled pipeline created %d media and %d posts", st.Media.Created, st.Posts.Created)
	}
}

func TestCancelComesTooLateOncePublished(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	// Make the record look published, as if the cleanup had not run yet.
	_, err := b.client.store.update(context.Background(), rec, func(r *Record) error {
		now := time.Now()
		r.State, r.PublishedAt = StateRunning, &now
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Cancel(context.Background(), rec.ID); !errors.Is(err, ErrAlreadyPublished) {
		t.Fatalf("cancel after publication: %v", err)
	}
	if _, err := b.client.Cancel(context.Background(), "00000000-0000-0000-0000-000000000000"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("cancel unknown: %v", err)
	}
}

// scheduledOnCallersPost makes a post of the caller's (a draft pipeline's,
// with a.png, due in an hour) and a pipeline that adds b.png to it and
// schedules it, and waits until that one is staged.
func (b *bundle) scheduledOnCallersPost() (own, rec *Record) {
	b.t.Helper()
	own = b.callersDraft()
	return own, b.waitRecord(b.publish(b.onCallersPost(own)).ID, "staged", func(r *Record) bool { return r.Staged })
}

// callersDraft is a post of the caller's: a draft (made by a pipeline of
// its own, its media kept) whose publishAt is an hour ahead.
func (b *bundle) callersDraft() *Record {
	b.t.Helper()
	own := b.wait(b.publish(b.request(ActionDraft, "a.png")).ID)
	at := time.Now().Add(time.Hour)
	if _, err := b.api.UpdatePost(context.Background(), own.PostID, swonkie.PostInput{PublishAt: swonkie.NewTime(at)}); err != nil {
		b.t.Fatal(err)
	}
	return own
}

// onCallersPost is a request scheduling media b.png on own's post.
func (b *bundle) onCallersPost(own *Record) Request {
	req := b.request(ActionSchedule, "b.png")
	req.Post, req.PostID = nil, own.PostID
	return req
}

// checkCallersPost reports unless own's post is live, at stage, with only
// the caller's media on it.
func (b *bundle) checkCallersPost(own, rec *Record, stage swonkie.Stage) swonkie.Post {
	b.t.Helper()
	post, _ := b.sb.Server.Post(own.PostID)
	if post.Deleted || post.Post.Stage != stage {
		b.t.Errorf("caller's post deleted=%v stage=%s; want it %s, as its owner left it: %s", post.Deleted, post.Post.Stage, stage, dump(rec))
	}
	if got := post.Post.MediaLibIDs(); !slices.Equal(got, own.mediaIDs()) {
		b.t.Errorf("post media %v, want only the caller's %v", got, own.mediaIDs())
	}
	return post.Post
}

// Cancelling a pipeline that added media to the caller's post takes only
// our media off, unschedules what we scheduled, and leaves the post.
func TestCancelOnCallersPostTakesOnlyOurMediaOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	own, rec := b.scheduledOnCallersPost()
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.wait(rec.ID)
	if rec.State != StateCancelled {
		t.Fatalf("ended %s", dump(rec))
	}
	post, _ := b.sb.Server.Post(own.PostID)
	if post.Deleted || post.Post.Stage == swonkie.StageScheduled {
		t.Fatalf("caller's post deleted=%v stage=%s", post.Deleted, post.Post.Stage)
	}
	if rec.PostStage != string(post.Post.Stage) {
		t.Errorf("record's postStage %q, the post is %s", rec.PostStage, post.Post.Stage)
	}
	if got := post.Post.MediaLibIDs(); !slices.Equal(got, own.mediaIDs()) {
		t.Fatalf("post media %v, want only the caller's %v", got, own.mediaIDs())
	}
	b.assertDeleted(rec)
	if info, _ := b.sb.Server.Media(own.Media[0].MediaID); info.State == sandbox.StateDeleted {
		t.Fatal("the caller's media was deleted")
	}
}

// A cancel interrupts the step running for the pipeline: a slow download
// does not hold its worker slot until it ends.
func TestCancelInterruptsTheRunningStep(t *testing.T) {
	t.Parallel()
	png := testPNG(t)
	// The source is read more than once (probed, then streamed): live
	// counts the requests in progress, and idle is closed while none is.
	var mu sync.Mutex
	live, idle := 0, make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if live++; live == 1 {
			idle = make(chan struct{})
		}
		mu.Unlock()
		defer func() {
			mu.Lock()
			if live--; live == 0 {
				close(idle)
			}
			mu.Unlock()
		}()
		w.Header().Set("Content-Type", "image/png")
		w.Header().Set("Content-Length", strconv.Itoa(len(png)+1<<20))
		_, _ = w.Write(png)
		_, _ = w.Write(make([]byte, 64<<10)) // enough to sniff; the rest dribbles
		w.(http.Flusher).Flush()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(50 * time.Millisecond):
				if _, err := w.Write([]byte{0}); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(slow.Close)
	b := setup(t, func(c *setupConfig) { c.allowHosts = []string{"127.0.0.1"} })
	rec := b.publish(b.request(ActionPublishNow, slow.URL+"/slow.png"))
	defer func() {
		if t.Failed() {
			t.Log(b.logs.String())
		}
	}()
	b.waitRecord(rec.ID, "the upload to start", func(r *Record) bool { return r.Media[0].Status == ItemCreated })
	mu.Lock()
	downloading, closed := live, idle
	mu.Unlock()
	if downloading == 0 {
		t.Fatal("no download in progress after the media was created")
	}
	start := time.Now()
	if _, err := b.client.Cancel(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the download went on after the cancel")
	}
	rec = b.wait(rec.ID)
	if rec.State != StateCancelled {
		t.Fatalf("ended %s", dump(rec))
	}
	t.Logf("cancelled %s after the request", time.Since(start).Round(time.Millisecond))
	b.assertDeleted(rec)
	b.assertClean()
}

func testPNG(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	if err := pngenc.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// A pipeline asked to add media to a post of the caller's and schedule
// it, when the caller had scheduled that post already: the schedule was
// the owner's, not the pipeline's. Cancelling the pipeline takes only our
// media off and leaves the post scheduled, as it was before the pipeline;
// unscheduling it would keep the owner's post from going out.
func TestCancelOnCallersScheduledPostLeavesItScheduled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	own := b.callersDraft()
	if _, err := b.api.ChangeStage(ctx, own.PostID, swonkie.ActionSchedule); err != nil {
		t.Fatal(err)
	}
	rec := b.waitRecord(b.publish(b.onCallersPost(own)).ID, "staged", func(r *Record) bool { return r.Staged })
	if _, err := b.client.Cancel(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.wait(rec.ID)
	if rec.State != StateCancelled {
		t.Fatalf("ended %s", dump(rec))
	}
	if post := b.checkCallersPost(own, rec, swonkie.StageScheduled); rec.PostStage != string(post.Stage) {
		t.Errorf("record's postStage %q, the post is %s", rec.PostStage, post.Stage)
	}
	b.assertDeleted(rec)
}

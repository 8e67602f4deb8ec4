package tasks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func withFaults(plan sandbox.FaultPlan) func(*setupConfig) {
	return func(c *setupConfig) { c.sandbox.Faults = plan }
}

// Every POST /posts commits and then loses its answer: the retry must find
// the post by its marker and adopt it, never post twice.
func TestLostPostReplyAdoptsThePost(t *testing.T) {
	t.Parallel()
	b := setup(t, withFaults(sandbox.FaultPlan{"POST /posts": {LostReply: 1}}))
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png")).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	st := b.sb.Server.Stats()
	if st.Posts.Created != 1 || st.Faults["POST /posts"][sandbox.FaultLostReply] != 1 {
		t.Fatalf("posts created %d, lost replies %v; want exactly one of each", st.Posts.Created, st.Faults["POST /posts"])
	}
	if !hasEvent(rec, StepAttach, "ok", "adopted post") {
		t.Fatalf("history does not show the adoption: %s", dump(rec))
	}
	b.assertClean()
}

// A lost reply to POST /media leaves a media nobody can know of (there is
// no list-media endpoint); everything else stays clean.
func TestLostMediaReplyIsTheOnlyOrphan(t *testing.T) {
	t.Parallel()
	b := setup(t, withFaults(sandbox.FaultPlan{"POST /media": {LostReply: 0.5}}))
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png", "c.png")).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	st := b.sb.Server.Stats()
	if len(st.Media.LostCreates) == 0 {
		t.Fatal("the fault plan lost no create reply; the test proves nothing")
	}
	b.assertClean()
}

// 429s do not burn the retry budget: with a budget of one retry and most
// calls throttled, the pipeline still succeeds, and each wait honours the
// Retry-After.
func TestRateLimitWaitsWithoutBurningRetries(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.MaxRetry = 1
	b := setup(t, withFaults(sandbox.FaultPlan{"*": {RateLimit: 0.5, RetryAfter: time.Second}}),
		func(c *setupConfig) { c.timing = timing })
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	limited := 0
	for i, e := range rec.History {
		if e.Outcome != "rate_limited" {
			continue
		}
		limited++
		if i+1 < len(rec.History) {
			if gap := rec.History[i+1].At.Sub(e.At); gap < 900*time.Millisecond {
				t.Errorf("next event %s after a 429 asking for 1s", gap)
			}
		}
	}
	if limited < 2 {
		t.Fatalf("only %d rate-limited attempts; the test proves nothing: %s", limited, dump(rec))
	}
	got := 0.0
	for _, typ := range TaskTypes {
		got += b.metricValue("mediaflow_tasks_processed_total", map[string]string{"type": typ, "outcome": "rate_limited"})
	}
	if got < float64(limited) {
		t.Errorf("metrics count %v rate-limited tasks, record %d", got, limited)
	}
	b.assertClean()
}

// 5xx and connection resets are retried with backoff until they pass.
func TestTransientErrorsAreRetried(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.MaxRetry = 10
	b := setup(t, withFaults(sandbox.FaultPlan{"*": {Error5xx: 0.25, Reset: 0.1}}), func(c *setupConfig) { c.timing = timing })
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png")).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	if !hasEvent(rec, "", "retry", "") {
		t.Fatalf("no retry happened; the test proves nothing: %s", dump(rec))
	}
	b.assertClean()
}

// I5 (docs/design.md): the upload URL expires between create and upload (the
// sandbox clock jumps 16 minutes right after the media is created); the
// worker abandons the stale media, deletes it, and uploads to a fresh one.
func TestUploadWindowExpiredUsesAFreshMedia(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	var jumped atomic.Bool
	wrapped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.sb.Server.ServeHTTP(w, r)
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v2/media") && jumped.CompareAndSwap(false, true) {
			b.sb.Advance(t, 16*time.Minute)
		}
	}))
	t.Cleanup(wrapped.Close)
	b.api = b.newAPIClient(wrapped.URL + "/v2")
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: testTiming})

	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	if len(rec.StaleMedia) != 1 || rec.Media[0].Generation != 1 {
		t.Fatalf("stale media %+v, generation %d; want one stale entry and generation 1", rec.StaleMedia, rec.Media[0].Generation)
	}
	if st := b.sb.Server.Stats(); st.Media.Created != 2 {
		t.Fatalf("%d media created, want 2", st.Media.Created)
	}
	b.assertDeleted(rec)
	b.assertClean()
}

// A worker that dies between create and upload (here: the upload's
// connection is reset) leaves a created media; the next attempt deletes it
// and starts over.
func TestInterruptedUploadAbandonsItsMedia(t *testing.T) {
	t.Parallel()
	b := setup(t, withFaults(sandbox.FaultPlan{"PUT {uploadUrl}": {Reset: 0.5}}))
	rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png", "c.png")).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	if len(rec.StaleMedia) == 0 {
		t.Fatal("no upload was interrupted; the test proves nothing")
	}
	b.assertDeleted(rec)
	b.assertClean()
}

// Processing that ends in ERROR is retried with a new media entry a few
// times; when it keeps failing the pipeline fails and deletes every entry.
func TestProcessingErrors(t *testing.T) {
	t.Parallel()
	t.Run("passing error is healed by a new entry", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *setupConfig) { c.sandbox.ErrorRate = 0.5; c.sandbox.Seed = 1 })
		rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png", "c.png")).ID)
		if len(rec.StaleMedia) == 0 {
			t.Fatal("no media ended in ERROR; the test proves nothing")
		}
		if rec.State != StateSucceeded {
			t.Fatalf("ended %s", dump(rec))
		}
		b.assertDeleted(rec)
		b.assertClean()
	})
	t.Run("lasting error fails and cleans up", func(t *testing.T) {
		t.Parallel()
		b := setup(t, func(c *setupConfig) { c.sandbox.ErrorRate = 1 })
		rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png")).ID)
		if rec.State != StateFailed || rec.Error == nil || !strings.Contains(rec.Error.Message, "ERROR") {
			t.Fatalf("ended %s", dump(rec))
		}
		rec = b.waitRecord(rec.ID, "compensation", func(r *Record) bool { return r.Cleanup == "done" })
		if got := len(rec.StaleMedia); got != b.timing.MaxGenerations {
			t.Errorf("%d media entries tried, want %d", got, b.timing.MaxGenerations)
		}
		b.assertDeleted(rec)
		b.assertClean()
	})
}

func hasEvent(r *Record, step Step, outcome, contains string) bool {
	for _, e := range r.History {
		if (step == "" || e.Step == step) && (outcome == "" || e.Outcome == outcome) && strings.Contains(e.Message, contains) {
			return true
		}
	}
	return false
}

// Two media:upload runs of one item at once (a task redelivered while its
// first run still streams the file): the second finds the entry made,
// abandons it (the first run's upload URL is not its to use) and uploads
// to a fresh one; the cleanup deletes the abandoned entry. The first run's
// upload then fails (the entry is gone: 404), and that failure belongs to
// an entry the item no longer uses: it must not fail the pipeline, whose
// item went on without it.
func TestUploadOvertakenByASecondRunDoesNotFailThePipeline(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	uploading, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/blob/") && once.CompareAndSwap(false, true) {
			close(uploading)
			<-release // the first run's file is still on its way
		}
		return false
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	select {
	case <-uploading:
	case <-time.After(20 * time.Second):
		t.Fatal("the upload never started")
	}
	second := b.worker.Handler().ProcessTask(context.Background(), newTask(TypeMediaUpload, Payload{PipelineID: rec.ID}))
	if second != nil {
		t.Fatalf("the second run: %v", second)
	}
	b.waitRecord(rec.ID, "the abandoned entry deleted", func(r *Record) bool { return len(r.StaleMedia) == 1 && r.StaleMedia[0].Deleted })
	close(release)
	rec = b.wait(rec.ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	b.settled(rec.ID)
	b.assertClean()
}

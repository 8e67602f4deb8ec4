package tasks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// loseFirstPostReply makes the bundle's worker talk to the sandbox through
// an interposer that lets the first POST /posts make its post, then, while
// the answer is on its way, runs then (with the pipeline's id, sent on the
// channel it returns) and drops the connection: the post exists, and no
// run knows its id. other, when set, may answer any other request first.
func loseFirstPostReply(b *bundle, then func(id string), other func(w http.ResponseWriter, r *http.Request) bool) chan<- string {
	ids := make(chan string, 1)
	var once sync.Once
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/posts") {
			return other != nil && other(w, r)
		}
		lost := false
		once.Do(func() {
			b.sb.Server.ServeHTTP(httptest.NewRecorder(), r)
			then(<-ids)
			if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
				conn.Close()
			}
			lost = true
		})
		return lost
	})
	return ids
}

func isPostSearch(r *http.Request) bool {
	return r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/posts")
}

// cancelOn is a then of loseFirstPostReply: the pipeline is cancelled
// while its post's answer is on its way.
func cancelOn(b *bundle) func(id string) {
	return func(id string) {
		if _, err := b.client.Cancel(context.Background(), id); err != nil {
			b.t.Errorf("cancel %s: %v", id, err)
		}
	}
}

// assertLostPostWithdrawn checks that a pipeline ended as want, with the
// post the lost answer made found by its cleanup and withdrawn, and
// nothing of it left on the sandbox.
func assertLostPostWithdrawn(b *bundle, rec *Record, want State) {
	b.t.Helper()
	if rec.State != want || rec.PostID == "" || !rec.PostWithdrawn {
		b.t.Fatalf("ended %s with post %q (withdrawn %v), want %s with the lost post found and withdrawn: %s", rec.State, rec.PostID, rec.PostWithdrawn, want, dump(rec))
	}
	if !hasEvent(rec, StepCleanup, "info", "found post "+rec.PostID) {
		b.t.Errorf("history does not show the post found: %s", dump(rec))
	}
	if live := b.livePosts(); len(live) > 0 {
		b.t.Errorf("%d posts are still live after the pipeline ended %s", len(live), rec.State)
	}
	b.assertDeleted(rec)
	b.assertClean()
}

// A cancel that lands while POST /posts has made the post and its answer
// is lost: the attach step stops for the cancel before any run adopts the
// post, so the cleanup looks for it and deletes it, and the pipeline ends
// cancelled with nothing left on Swonkie (docs/design.md, I3).
func TestCancelAfterALostPostReplyDeletesThePost(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ids := loseFirstPostReply(b, cancelOn(b), nil)
	rec := b.publish(b.request(ActionPublishNow, "a.png", "b.png"))
	ids <- rec.ID
	assertLostPostWithdrawn(b, b.waitOver(rec.ID), StateCancelled)
}

// The same for a pipeline that fails after its post's answer was lost: the
// search that would have adopted the post is refused for good, the attach
// step gives up, and the cleanup, searching again, finds the post and
// deletes it.
func TestFailureAfterALostPostReplyDeletesThePost(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	var refused sync.Once
	ids := loseFirstPostReply(b, func(string) {}, func(w http.ResponseWriter, r *http.Request) bool {
		handled := false
		if isPostSearch(r) {
			refused.Do(func() {
				http.Error(w, `{"message":"bad request"}`, http.StatusBadRequest)
				handled = true
			})
		}
		return handled
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	ids <- rec.ID
	assertLostPostWithdrawn(b, b.waitOver(rec.ID), StateFailed)
}

// A search Swonkie refuses for good does not keep a cancel from ending:
// like a withdrawal refused (postLeft), the cleanup notes what it could
// not do and the pipeline ends cancelled; whatever the lost answer made
// is left as is.
func TestCancelEndsWhenTheSearchForALostPostIsRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ids := loseFirstPostReply(b, cancelOn(b), func(w http.ResponseWriter, r *http.Request) bool {
		if isPostSearch(r) {
			http.Error(w, `{"message":"bad request"}`, http.StatusBadRequest)
			return true
		}
		return false
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	ids <- rec.ID
	rec = b.waitOver(rec.ID)
	if rec.State != StateCancelled || rec.PostID != "" {
		t.Fatalf("ended %s with post %q, want cancelled without a post: %s", rec.State, rec.PostID, dump(rec))
	}
	if !hasEvent(rec, StepCleanup, giveUp.String(), "could not look for the post") {
		t.Errorf("history does not say the search was refused: %s", dump(rec))
	}
	b.assertDeleted(rec)
}

// A create Swonkie refuses for good made nothing: the failed pipeline's
// cleanup does not search for a post (a search by content could take a
// person's identical post for it).
func TestRefusedCreateOwesNoSearch(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	var mu sync.Mutex
	searches := 0
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		switch {
		case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/posts"):
			http.Error(w, `{"message":"invalid post"}`, http.StatusBadRequest)
			return true
		case isPostSearch(r):
			mu.Lock()
			searches++
			mu.Unlock()
		}
		return false
	})
	rec := b.waitOver(b.publish(b.request(ActionPublishNow, "a.png")).ID)
	if rec.State != StateFailed || rec.Cleanup != CleanupDone {
		t.Fatalf("ended %s, cleanup %s; want failed, cleanup done: %s", rec.State, rec.Cleanup, dump(rec))
	}
	mu.Lock()
	defer mu.Unlock()
	if searches != 0 {
		t.Errorf("%d searches for a post after a create refused for good, want none", searches)
	}
}

// A replay closes the attempt that ended: its posts were recorded or
// searched for, so a replayed attempt cancelled before it makes a post
// owes no search for them.
func TestReopenOwesNoSearchForTheAttemptItCloses(t *testing.T) {
	t.Parallel()
	rec := &Record{ID: "p", State: StateCancelled, PostID: "post-1", PostCreated: true, PostWithdrawn: true}
	rec.in.PostAttempts = 2
	reopen(rec, time.Now())
	rec.CancelRequested = true
	if rec.postUnsearched() || rec.owesCleanup() {
		t.Errorf("after a replay and a cancel: postUnsearched %v, owesCleanup %v; want neither", rec.postUnsearched(), rec.owesCleanup())
	}
}

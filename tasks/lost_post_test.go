package tasks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
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
	b := setup(t, func(c *setupConfig) { c.noWorker = true }, shortClaims)
	ids := loseFirstPostReply(b, cancelOn(b), nil)
	rec := b.publish(b.request(ActionPublishNow, "a.png", "b.png"))
	ids <- rec.ID
	assertLostPostWithdrawn(b, b.waitOver(rec.ID), StateCancelled)
}

// An edit while an attempt to create the post went unanswered and nobody
// has looked for what it made is refused (ErrBusy) until a run has: the
// search recognises a post without media by its content, and one with
// media among the request's profiles, so an edit in that gap would hide
// the post the attempt made, and the retry would make a second one (a
// stray in the workspace). Retries wait 2-4 s here: time for the edit to
// land in the gap when nothing refuses it.
func TestEditWaitsForTheSearchAfterALostPostReply(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing.RetryBase = 4 * time.Second })
	caption := "edited words"
	type result struct {
		rec *Record
		err error
	}
	done := make(chan result, 1)
	ids := loseFirstPostReply(b, func(id string) {
		go func() {
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(20 * time.Millisecond) {
				rec, err := b.client.Edit(context.Background(), id, Edit{Post: &PostEdit{Caption: &caption}}, "tester")
				if !errors.Is(err, ErrBusy) || time.Now().After(deadline) {
					done <- result{rec, err}
					return
				}
			}
		}()
	}, nil)
	at := time.Now().Add(time.Hour).Truncate(time.Second)
	req := Request{Action: ActionSchedule, Post: &PostSpec{Type: TypeStatus, ProfileIDs: b.profiles[:1], Caption: "first words", PublishAt: &at}}
	rec := b.publish(req)
	ids <- rec.ID
	res := <-done
	if res.err != nil {
		t.Fatalf("edit: %v", res.err)
	}
	if res.rec.PostID == "" {
		t.Errorf("the edit landed before the post the lost answer made was found: %s", dump(res.rec))
	}
	rec = b.waitRecord(rec.ID, "scheduled with the edit", func(r *Record) bool {
		return r.Staged && !r.editPending() && r.Request.Post.Caption == caption
	})
	if st := b.sb.Server.Stats(); st.Posts.Created != 1 {
		t.Errorf("%d posts made, want 1 (the lost answer's, adopted): %s", st.Posts.Created, dump(rec))
	}
	live := b.livePosts()
	if len(live) != 1 || live[0].Post.ID != rec.PostID || captionOf(live[0].Post) != caption {
		for _, p := range live {
			t.Logf("live post %s (%s): %q", p.Post.ID, p.Post.Stage, captionOf(p.Post))
		}
		t.Fatalf("%d live posts, want the pipeline's post %s with the edit", len(live), rec.PostID)
	}
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
	b := setup(t, func(c *setupConfig) { c.noWorker = true }, shortClaims)
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

// A call on the post that lands after the worker stopped waiting for it:
// POST /posts (or the stage call) outlasts the call's timeout, or the
// pipeline is cancelled while it is out, and Swonkie acts on it only later.
// The run that gave up renews the post claim for another call and its
// margin, so no run, and no cleanup, looks at the post before the call
// lands; released, the next run would search and make a second post, or
// read the post unstaged and stage it again, and a cancel's cleanup would
// find nothing and leave the late post behind (docs/design.md, I1, I3).
// The call lands after the claim as it was before the call would have
// lapsed: a claim kept but not renewed lets a look through.
func TestCallOnThePostThatLandsLate(t *testing.T) {
	t.Parallel()
	isPostRead := func(r *http.Request) bool {
		return r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/posts/") && !strings.HasSuffix(r.URL.Path, "/validate")
	}
	isCreate := func(r *http.Request) bool {
		return r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/posts")
	}
	isUpdate := func(r *http.Request) bool {
		return r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/posts/")
	}
	for _, tc := range []struct {
		name string
		held func(*http.Request) bool // the call that lands late
		// early is a look at the post that must wait for it
		early  func(*http.Request) bool
		cancel bool // cancel the pipeline while the call is out
		// callers: the pipeline adds its media to a post of the caller's
		callers bool
		want    State
		// event is what the history shows of the late call's effect
		event string
	}{
		{"create times out", isCreate, func(r *http.Request) bool { return isPostSearch(r) || isPostRead(r) }, false, false, StateSucceeded, "adopted post "},
		{"stage times out", isStageCall, func(r *http.Request) bool { return isStageCall(r) || isPostRead(r) }, false, false, StateSucceeded, "published"},
		{"cancel during the create", isCreate, func(r *http.Request) bool { return isPostSearch(r) || isPostRead(r) }, true, false, StateCancelled, "found post "},
		// The PUT lands: our media are on the caller's post, and are taken
		// off before they are deleted (a post whose media are deleted can
		// break), rather than deleted from under it.
		{"cancel during the update of the caller's post", isUpdate, func(r *http.Request) bool { return isUpdate(r) || isPostRead(r) }, true, true, StateCancelled, "found our media on post "},
		// The stage lands: the post is published, and the cancel came too
		// late, as the record says, rather than read unstaged, deleted
		// half-way or refused while it publishes.
		{"cancel during the stage", isStageCall, func(r *http.Request) bool { return isStageCall(r) || isPostRead(r) || r.Method == http.MethodDelete }, true, false, StateSucceeded, "cancel came too late"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// Calls get 2 s, claims a margin of 1 s: the claim renewed
			// before the call lapses 3 s after it, 1 s after the worker
			// gives up; renewed then, 3 s after that.
			b := setup(t, func(c *setupConfig) { c.noWorker = true }, shortClaims)
			var (
				mu sync.Mutex
				// first: the held call is yet to come (false until the
				// caller's post, if any, is made)
				first = !tc.callers
				// land acts on the held call; set from when the worker
				// gave up on it until it landed.
				land   func()
				looked bool
				landed = make(chan struct{})
				ids    = make(chan string, 1)
			)
			withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
				mu.Lock()
				if land != nil && tc.early(r) {
					// The look is answered before the call lands, then it
					// lands: what a look in that gap would miss.
					looked = true
					late := land
					mu.Unlock()
					b.sb.Server.ServeHTTP(w, r)
					late()
					return true
				}
				if !first || !tc.held(r) {
					mu.Unlock()
					return false
				}
				first = false
				mu.Unlock()
				body, err := io.ReadAll(r.Body)
				if err != nil {
					t.Errorf("read the held call: %v", err)
					return false
				}
				if tc.cancel {
					cancelOn(b)(<-ids)
				}
				<-r.Context().Done() // the worker stopped waiting
				var once sync.Once
				late := func() {
					once.Do(func() {
						req := r.Clone(context.Background())
						req.Body = io.NopCloser(bytes.NewReader(body))
						b.sb.Server.ServeHTTP(httptest.NewRecorder(), req)
						mu.Lock()
						land = nil
						mu.Unlock()
						close(landed)
					})
				}
				mu.Lock()
				land = late
				mu.Unlock()
				time.AfterFunc(2*time.Second, late)
				return true
			})
			req := b.request(ActionPublishNow, "a.png")
			var own *Record
			if tc.callers {
				own = b.wait(b.publish(b.request(ActionDraft, "b.png")).ID)
				req = b.request(ActionDraft, "a.png")
				req.Post, req.PostID = nil, own.PostID
				mu.Lock()
				first = true
				mu.Unlock()
			}
			rec := b.publish(req)
			ids <- rec.ID
			rec = b.waitOver(rec.ID)
			<-landed
			mu.Lock()
			defer mu.Unlock()
			if looked {
				t.Error("a run looked at the post while the call the worker gave up on could still land")
			}
			if rec.State != tc.want || !hasEvent(rec, "", "", tc.event) {
				t.Fatalf("ended %s, want %s and %q: %s", rec.State, tc.want, tc.event, dump(rec))
			}
			all := b.sb.Server.AllPosts()
			if len(all) != 1 || all[0].Post.ID != rec.PostID {
				t.Errorf("Swonkie holds %d posts (%+v), want the pipeline's one", len(all), all)
			}
			if tc.callers {
				post, _ := b.sb.Server.Post(own.PostID)
				if got := post.Post.MediaLibIDs(); post.Deleted || !slices.Equal(got, own.mediaIDs()) {
					t.Errorf("the caller's post (deleted %v) holds media %v, want only its own %v", post.Deleted, got, own.mediaIDs())
				}
				b.assertDeleted(rec)
				return
			}
			if tc.want == StateCancelled {
				assertLostPostWithdrawn(b, rec, StateCancelled)
				return
			}
			b.assertClean()
		})
	}
}

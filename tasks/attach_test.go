package tasks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// stageRefusals are the statuses the docs allow for a stage action the
// post's stage does not allow: each test of staging runs with both.
var stageRefusals = []sandbox.StageRefusal{sandbox.StageRefusalConflict, sandbox.StageRefusalBadRequest}

// interposer stands between the worker and the sandbox: before lets a
// test act on a request before the sandbox answers it (nil: pass on).
type interposer struct {
	sb     *sandbox.Running
	before func(w http.ResponseWriter, r *http.Request) bool // true: handled
}

func (i *interposer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if i.before != nil && i.before(w, r) {
		return
	}
	i.sb.Server.ServeHTTP(w, r)
}

// withInterposer starts the bundle's worker against an interposer of the
// sandbox that before drives.
func withInterposer(b *bundle, before func(w http.ResponseWriter, r *http.Request) bool) {
	b.t.Helper()
	srv := httptest.NewServer(&interposer{sb: b.sb, before: before})
	b.t.Cleanup(srv.Close)
	b.api = b.newAPIClient(srv.URL + "/v2")
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: b.timing})
}

// relay sends the answer rec recorded on to w, as the sandbox gave it.
func relay(w http.ResponseWriter, rec *httptest.ResponseRecorder) {
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func isStageCall(r *http.Request) bool {
	return r.Method == http.MethodPatch && strings.Contains(r.URL.Path, "/stage/")
}

// Issue 20, item 1, reproduced without a kill: two post:attach runs of one
// two-media pipeline at once (a task redelivered after a crash while the
// first run is still out). The second comes while the first's POST /posts
// has made the post and its answer is still on its way. Only one run may
// act on the post; the other waits for it, and the pipeline ends
// succeeded, its post staged once, whatever status Swonkie gives a second
// stage call (docs/design.md, I1 and I8).
func TestTwoAttachRunsAtOnceEndSucceeded(t *testing.T) {
	t.Parallel()
	for _, refusal := range stageRefusals {
		t.Run(http.StatusText(int(refusal)), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *setupConfig) { c.noWorker = true; c.sandbox.StageRefusal = refusal })
			created, release := make(chan struct{}), make(chan struct{})
			var once sync.Once
			withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
				if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/v2/posts") {
					return false
				}
				// The post is made; its answer waits until the second run
				// has had its go.
				rec := httptest.NewRecorder()
				b.sb.Server.ServeHTTP(rec, r)
				once.Do(func() { close(created) })
				<-release
				relay(w, rec)
				return true
			})
			id := b.publish(b.request(ActionPublishNow, "a.png", "b.png")).ID
			<-created
			second := b.worker.Handler().ProcessTask(context.Background(), newTask(TypePostAttach, Payload{PipelineID: id}))
			close(release)
			if got := taskOutcome(second); got != metrics.OutcomeWaiting {
				t.Errorf("the second run ended %q (%v), want it to wait for the first", got, second)
			}
			rec := b.wait(id)
			if rec.State != StateSucceeded {
				t.Fatalf("ended %s", dump(rec))
			}
			st := b.sb.Server.Stats()
			stage := st.Requests["PATCH /posts/{id}/stage/{stage}"]
			if st.Posts.Created != 1 || stage[http.StatusOK] != 1 || len(stage) != 1 {
				t.Errorf("%d posts created, stage calls by status %v; want 1 post staged by one call", st.Posts.Created, stage)
			}
			b.assertClean()
		})
	}
}

// A stage call Swonkie carried out but whose answer says otherwise: the
// call reaches Swonkie twice (a proxy or a client retrying it), and the
// second finds the post already published. Swonkie refuses it (409, or
// 400 "already PUBLISHED"); the step reads the post, sees the change took
// effect, and the pipeline succeeds.
func TestRefusedStageCallOnAPublishedPostSucceeds(t *testing.T) {
	t.Parallel()
	for _, refusal := range stageRefusals {
		t.Run(http.StatusText(int(refusal)), func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *setupConfig) { c.noWorker = true; c.sandbox.StageRefusal = refusal })
			var once sync.Once
			withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
				if !isStageCall(r) {
					return false
				}
				handled := false
				once.Do(func() {
					b.sb.Server.ServeHTTP(httptest.NewRecorder(), r.Clone(r.Context()))
					b.sb.Advance(t, b.sbOpts.PublishDelay) // it went out
					b.sb.Server.ServeHTTP(w, r)
					handled = true
				})
				return handled
			})
			rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png", "b.png")).ID)
			if rec.State != StateSucceeded || !hasEvent(rec, StepAttach, "ok", "was already PUBLISHED") {
				t.Fatalf("ended %s", dump(rec))
			}
			stage := b.sb.Server.Stats().Requests["PATCH /posts/{id}/stage/{stage}"]
			if stage[int(refusal)] != 1 {
				t.Fatalf("stage calls by status %v: the refusal this test is about never happened", stage)
			}
			if st := b.sb.Server.Stats(); st.Posts.Published != 1 {
				t.Errorf("%d posts published, want 1", st.Posts.Published)
			}
			b.assertClean()
		})
	}
}

// The post claim is stamped and judged by Redis's clock (TIME), not the
// worker's: a worker whose clock runs ten minutes ahead does not take a
// claim another run holds, and one ten minutes behind still takes a claim
// that lapsed (docs/design.md, I1).
func TestPostClaimGoesByRedisTime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		skew    time.Duration // the worker's clock against Redis's
		claimed time.Duration // how long before Redis's now the other run renewed its claim
		taken   bool
	}{
		{"a clock ahead does not steal a live claim", 10 * time.Minute, time.Second, false},
		{"a clock behind still takes a lapsed claim", -10 * time.Minute, 2 * time.Minute, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clock := newFakeClock()
			clock.Advance(tc.skew)
			b := setup(t, func(c *setupConfig) { c.clock = clock; c.sweep = "off" })
			rec := b.publish(b.request(ActionPublishNow, "a.png"))
			b.worker.Shutdown() // only this test's run touches the record
			redisNow, err := b.worker.p.store.rdb.Now(ctx)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := b.worker.p.store.get(ctx, rec.ID)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := b.worker.p.store.update(ctx, stored, func(r *Record) error {
				r.in.PostClaim = &claim{Holder: "another run", At: redisNow.Add(-tc.claimed)}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			r := &run{p: b.worker.p, row: rowOf(TypePostAttach), pl: Payload{PipelineID: rec.ID}, rec: stored, id: "this run", log: b.worker.p.log}
			err = b.worker.p.holdClaim(ctx, r, nil)
			if taken := err == nil; taken != tc.taken {
				t.Fatalf("holdClaim: %v; want the claim taken: %v", err, tc.taken)
			}
			if !tc.taken && judge(err).kind != pollAgain {
				t.Fatalf("a held claim is %v, want a wait", err)
			}
		})
	}
}

// A claim holds for ttl after its last renewal, by Redis's clock, and no
// wait for it is longer than ttl: after the clock stepped back, a waiter
// looks again within a TTL. An edit judges a claim by the same rule.
func TestClaimLeft(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	ttl := 40 * time.Second
	for _, tc := range []struct {
		name  string
		claim *claim
		now   time.Time
		want  time.Duration
	}{
		{"none", nil, at, 0},
		{"just renewed", newClaim("r", at, ttl), at, ttl},
		{"half way", newClaim("r", at, ttl), at.Add(15 * time.Second), 25 * time.Second},
		{"lapsed", newClaim("r", at, ttl), at.Add(time.Minute), 0},
		{"Redis's clock stepped back", newClaim("r", at, ttl), at.Add(-time.Hour), ttl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.claim.left(tc.now, ttl); got != tc.want {
				t.Errorf("left = %s, want %s", got, tc.want)
			}
			// An edit judges a claim by the same rule.
			if held := claimHeld(tc.claim, tc.now); held != (tc.want > 0) {
				t.Errorf("claimHeld = %v, want %v", held, tc.want > 0)
			}
		})
	}
}

// A schedule call that lands with its answer lost, and the next run of
// the attach step comes after publishAt passed by more than LateTolerance
// (its claim held it off, a backlog, a worker down): the post was
// scheduled by the call that landed, and Swonkie published it at its
// time. The step must look at the post before it judges it too late to
// schedule: failing the pipeline for lateness reported "failed" for a
// post that went out (docs/design.md, I8), or withdrew a post that was
// scheduled on time.
func TestLateRetryOfALandedScheduleFindsThePostStaged(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.LateTolerance = 500 * time.Millisecond
	b := setup(t, shortClaims, func(c *setupConfig) { c.noWorker = true; c.timing = timing })
	var once atomic.Bool
	withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
		if !isStageCall(r) || !strings.HasSuffix(r.URL.Path, "/schedule") || !once.CompareAndSwap(false, true) {
			return false
		}
		rec := httptest.NewRecorder()
		b.sb.Server.ServeHTTP(rec, r)
		_ = b.sb.Server.Advance(time.Hour)      // its time comes: Swonkie publishes it
		time.Sleep(b.callTimeout + time.Second) // the client gives up first
		relay(w, rec)
		return true
	})
	req := b.request(ActionSchedule, "a.png")
	at := time.Now().Add(10 * time.Second)
	req.Post.PublishAt = &at
	rec := b.wait(b.publish(req).ID)
	if !once.Load() {
		t.Fatalf("no schedule call was sent: %s", dump(rec))
	}
	info, _ := b.sb.Server.Post(rec.PostID)
	if info.Post.Stage != swonkie.StagePublished {
		t.Fatalf("the post is %s (deleted %v): the case this test is about never happened: %s", info.Post.Stage, info.Deleted, dump(rec))
	}
	if rec.State != StateSucceeded || rec.PublishedAt == nil {
		t.Errorf("ended %s (publishedAt %v) for a post Swonkie published: %s", rec.State, rec.PublishedAt, dump(rec))
	}
}

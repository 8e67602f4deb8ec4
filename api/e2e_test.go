package api

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/internal/workertest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// workerWorld is a world with a real worker behind it: the sandbox, a
// media root with a PNG, and an HTTP media store on 127.0.0.1 that only
// ALLOWED_SOURCE_HOSTS lets the worker reach.
type workerWorld struct {
	*world
	sandbox  *sandbox.Running
	profile  string
	storeURL string
}

func newWorkerWorld(t *testing.T, faults sandbox.FaultPlan) *workerWorld {
	t.Helper()
	pic := testmedia.PNG(16, 16, 1)
	store := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "image/png")
		_, _ = w.Write(pic)
	}))
	t.Cleanup(store.Close)

	// The worker's opener and the API's client get the same allowlist: the
	// guard is checked at enqueue time and again at dial time.
	allowed := []string{"127.0.0.1"}
	stack := workertest.Start(t, workertest.Options{AllowedHosts: allowed, Faults: faults, Worker: true})
	if err := os.WriteFile(filepath.Join(stack.Root, "local.png"), pic, 0o644); err != nil {
		t.Fatal(err)
	}
	return &workerWorld{
		world:    newWorld(t, worldOptions{redis: stack.Redis, allowedHosts: allowed, mediaRoot: stack.Root}),
		sandbox:  stack.Sandbox,
		profile:  stack.Profiles[0],
		storeURL: store.URL,
	}
}

func (w *workerWorld) request(caption string) string {
	return fmt.Sprintf(`{"media":[{"source":"local.png"},{"source":%q}],"post":{"profileIds":[%q],"caption":%q},"action":"publishNow"}`,
		w.storeURL+"/remote.png?token=secret", w.profile, caption)
}

// waitFor polls GET /v1/pipelines/{id} until done says so.
func (w *workerWorld) waitFor(t *testing.T, id string, what string, done func(*tasks.Record) bool) *tasks.Record {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + id})
		if r.status != http.StatusOK {
			t.Fatalf("GET: %d %s", r.status, r.body)
		}
		rec := r.record(t)
		if done(rec) {
			return rec
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline %s not %s after 30s: %s", id, what, rec.Progress())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// The whole way: enqueue over HTTP, a real worker runs the pipeline against
// the sandbox (a local file and a URL on an allowlisted private host), GET
// answers the terminal record, and a cancel then comes too late.
func TestEndToEnd(t *testing.T) {
	t.Parallel()
	w := newWorkerWorld(t, nil)
	body := w.request("end to end")
	r := w.publish(t, body, map[string]string{"Idempotency-Key": "e2e-1"})
	if r.status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	id := r.record(t).ID

	rec := w.waitFor(t, id, "finished", func(r *tasks.Record) bool { return r.State.Terminal() })
	if rec.State != tasks.StateSucceeded {
		t.Fatalf("pipeline ended %s: %+v", rec.State, rec.Error)
	}
	if rec.PostID == "" || rec.PublishedAt == nil || rec.Cleanup != "done" || rec.Step != tasks.StepDone {
		t.Errorf("terminal record: %s postId %q publishedAt %v cleanup %q", rec.Progress(), rec.PostID, rec.PublishedAt, rec.Cleanup)
	}
	for i, m := range rec.Media {
		if m.Status != tasks.ItemReady || m.MediaID == "" || !m.Deleted || m.Bytes == 0 {
			t.Errorf("media[%d] %+v", i, m)
		}
	}
	if post, ok := w.sandbox.Server.Post(rec.PostID); !ok || post.PublishedAt.IsZero() || post.Deleted {
		t.Errorf("the sandbox post %s: %+v", rec.PostID, post)
	}
	for _, m := range rec.Media {
		if info, ok := w.sandbox.Server.Media(m.MediaID); !ok || info.Bytes != int64(len(testmedia.PNG(16, 16, 1))) || info.DeletedAt.IsZero() {
			t.Errorf("the sandbox media %s: %+v", m.MediaID, info)
		}
	}

	// The same key answers the same (now finished) pipeline.
	replay := w.publish(t, body, map[string]string{"Idempotency-Key": "e2e-1"})
	if replay.status != http.StatusOK || replay.record(t).State != tasks.StateSucceeded {
		t.Errorf("replay after the end: %d %s", replay.status, replay.body)
	}
	// It lists under its terminal state.
	list := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines?state=succeeded"})
	if list.status != http.StatusOK || !bytes.Contains(list.body, []byte(id)) {
		t.Errorf("succeeded list: %d %s", list.status, list.body)
	}

	c := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + id + "/cancel"})
	if c.status != http.StatusConflict {
		t.Fatalf("cancel a finished pipeline: %d %s", c.status, c.body)
	}
	if p := c.problem(t); p.Type != typeFinished || p.PipelineID != id {
		t.Errorf("problem %+v", p)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	t.Run("pending", func(t *testing.T) {
		t.Parallel()
		w := newWorld(t, worldOptions{})
		rec := w.mustPublish(t, validRequest("cancel me"))
		for i := range 2 {
			r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + rec.ID + "/cancel"})
			if r.status != http.StatusAccepted {
				t.Fatalf("cancel %d: %d %s", i+1, r.status, r.body)
			}
			if got := r.record(t); !got.CancelRequested || got.ID != rec.ID || r.header.Get("Location") != "/v1/pipelines/"+rec.ID {
				t.Errorf("cancel %d answered %+v", i+1, got)
			}
		}
		for _, id := range []string{"0193a000-0000-7000-8000-000000000000", "nope"} {
			r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + id + "/cancel"})
			if r.status != http.StatusNotFound || r.problem(t).Type != typeNotFound {
				t.Errorf("cancel %s: %d %s", id, r.status, r.body)
			}
		}
	})
	t.Run("once published", func(t *testing.T) {
		t.Parallel()
		// Deleting media keeps failing, so the pipeline stays in its
		// cleanup step with its post published: too late to cancel.
		w := newWorkerWorld(t, sandbox.FaultPlan{"DELETE /media/{id}": {Error5xx: 1}})
		rec := w.mustPublish(t, w.request("too late"))
		w.waitFor(t, rec.ID, "published", func(r *tasks.Record) bool { return r.PublishedAt != nil })
		r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + rec.ID + "/cancel"})
		if r.status != http.StatusConflict {
			t.Fatalf("cancel: %d %s", r.status, r.body)
		}
		if p := r.problem(t); p.Type != typeAlreadyPublished || p.PipelineID != rec.ID {
			t.Errorf("problem %+v", p)
		}
	})
}

package api

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/internal/workertest"
	"github.com/mediaflow/mediaflow/tasks"
)

// PATCH /v1/pipelines/{id} and POST /v1/pipelines/{id}/replay answer
// every status openapi.yaml documents for them, against a real worker.
func TestEditAndReplayRoutes(t *testing.T) {
	t.Parallel()
	ws := workertest.Start(t, workertest.Options{Worker: true})
	if err := os.WriteFile(filepath.Join(ws.Root, "a.png"), testmedia.PNG(8, 8, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOptions{redis: ws.Redis, mediaRoot: ws.Root})
	later := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	scheduled := w.mustPublish(t, `{"media":[{"source":"a.png"}],"post":{"profileIds":["`+ws.Profiles[0]+`"],"caption":"before","publishAt":"`+later+`"},"action":"schedule"}`).ID
	// Instagram takes JPEG only: a PNG fails in pre-flight, for good.
	failing := w.mustPublish(t, `{"media":[{"source":"a.png"}],"post":{"profileIds":["`+ws.Profiles[1]+`"],"caption":"x"},"action":"publishNow"}`).ID
	unknown := tasks.PipelineID("nobody")
	// Edited while no step acts on its post: once it is scheduled.
	waitFor := func(id string, cond func(*tasks.Record) bool) *tasks.Record {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			rec, err := w.client.Get(context.Background(), id)
			if err == nil && cond(rec) {
				return rec
			}
			if time.Now().After(deadline) {
				t.Fatalf("pipeline %s: %+v %v", id, rec, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(scheduled, func(r *tasks.Record) bool { return r.Staged })

	edit := func(id, body string) call {
		return call{method: http.MethodPatch, path: "/v1/pipelines/" + id, body: body}
	}
	replay := func(id, body string) call {
		return call{method: http.MethodPost, path: "/v1/pipelines/" + id + "/replay", body: body}
	}
	for _, tt := range []struct {
		name    string
		c       call
		status  int
		problem string
	}{
		{"edit caption", edit(scheduled, `{"post":{"caption":"after"}}`), http.StatusAccepted, ""},
		{"edit a field an edit cannot change", edit(scheduled, `{"media":[]}`), http.StatusBadRequest, typeMalformed},
		{"edit to a time past", edit(scheduled, `{"post":{"publishAt":"2020-01-01T00:00:00Z"}}`), http.StatusBadRequest, typeInvalid},
		{"edit unknown", edit(unknown, `{"post":{"caption":"x"}}`), http.StatusNotFound, typeNotFound},
		{"edit without token", call{method: http.MethodPatch, path: "/v1/pipelines/" + scheduled, token: "-", body: `{}`}, http.StatusUnauthorized, typeUnauthorized},
		{"replay a running one", replay(scheduled, ""), http.StatusConflict, typeNotReplayable},
		{"replay unknown", replay(unknown, ""), http.StatusNotFound, typeNotFound},
		{"replay with a bad body", replay(scheduled, `{"post":{"media":1}}`), http.StatusBadRequest, typeMalformed},
		{"replay without token", call{method: http.MethodPost, path: "/v1/pipelines/" + scheduled + "/replay", token: "-"}, http.StatusUnauthorized, typeUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.do(t, tt.c)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			if tt.problem != "" {
				if p := r.problem(t); p.Type != tt.problem {
					t.Errorf("problem %q, want %q", p.Type, tt.problem)
				}
			}
		})
	}
	rec, err := w.client.Get(context.Background(), scheduled)
	if err != nil || rec.Request.Post.Caption != "after" || !strings.Contains(rec.History[len(rec.History)-1].Message+dumpHistory(rec), "edited by api token 1") {
		t.Fatalf("after the edit: %v %+v", err, rec)
	}

	// The failed one, replayed with a valid profile, succeeds.
	over := func(id string) *tasks.Record {
		t.Helper()
		return waitFor(id, func(r *tasks.Record) bool { return r.State.Terminal() && r.Cleanup != tasks.CleanupPending })
	}
	if rec := over(failing); rec.State != tasks.StateFailed {
		t.Fatalf("with an expired profile it ended %s", rec.State)
	}
	if r := w.do(t, edit(failing, `{"post":{"caption":"y"}}`)); r.status != http.StatusConflict || r.problem(t).Type != typeFinished {
		t.Errorf("edit of a failed pipeline: %d %s", r.status, r.body)
	}
	r := w.do(t, replay(failing, `{"post":{"profileIds":["`+ws.Profiles[0]+`"]}}`))
	if r.status != http.StatusAccepted {
		t.Fatalf("replay: %d %s", r.status, r.body)
	}
	if rec := over(failing); rec.State != tasks.StateSucceeded || rec.Replays != 1 {
		t.Fatalf("replayed, it ended %s after %d replays", rec.State, rec.Replays)
	}
}

func dumpHistory(r *tasks.Record) string {
	var b strings.Builder
	for _, e := range r.History {
		b.WriteString(e.Message + "\n")
	}
	return b.String()
}

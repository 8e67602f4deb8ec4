package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/jaegertest"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/internal/workertest"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// TestTraceparentInJaeger: a traceparent sent to POST /v1/pipelines makes
// the API's server span, as Jaeger stores it, a child of the caller's span
// in the caller's trace.
func TestTraceparentInJaeger(t *testing.T) {
	t.Parallel()
	j := jaegertest.Shared(t)
	tr := j.Tracing(t, "api-test", tracingsdk.Build{Version: "test"})
	w := newWorld(t, worldOptions{configure: func(c *Config) {
		c.TracerProvider, c.Propagator = tr.TracerProvider(), tr.Propagator()
	}})
	traceID, parentID := randomHex(t, 16), randomHex(t, 8)
	r := w.publish(t, validRequest("traced"), map[string]string{"traceparent": "00-" + traceID + "-" + parentID + "-01"})
	if r.status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := j.Trace(t, traceID, 1)
	if len(got.Spans) != 1 {
		t.Fatalf("%d spans, want the API's one: %+v", len(got.Spans), got.Spans)
	}
	s := got.Spans[0]
	if s.Name != "POST /v1/pipelines" || s.Kind != "server" || s.Service != "api-test" {
		t.Errorf("span %q kind %q service %q", s.Name, s.Kind, s.Service)
	}
	if s.TraceID != traceID || s.ParentID != parentID || s.ParentTraceID != traceID {
		t.Errorf("span in trace %s under %s/%s, want under the caller's %s/%s", s.TraceID, s.ParentTraceID, s.ParentID, traceID, parentID)
	}
	if s.Tags["http.route"] != "/v1/pipelines" || s.Tags["http.response.status_code"] != float64(http.StatusAccepted) {
		t.Errorf("tags %v", s.Tags)
	}
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// TestPipelineTraceInJaeger is the whole way, read back from a real
// Jaeger: a caller's traceparent on POST /v1/pipelines, a worker whose
// create-post reply is lost and whose first look at the media meets a
// 429, a webhook. One trace, the caller's: the API's span under the
// caller's, then every step of the pipeline, the adoption search inside
// the attach, every Swonkie call inside the step that makes it, the 429
// and what it asked to wait, the webhook, whose receiver got a
// traceparent of the same trace; no id in a span name, no credential or
// presigned query anywhere in it.
func TestPipelineTraceInJaeger(t *testing.T) {
	t.Parallel()
	j := jaegertest.Shared(t)
	tr := j.Tracing(t, "mediaflow-e2e", tracingsdk.Build{Version: "test"})
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Get("traceparent"))
		mu.Unlock()
	}))
	t.Cleanup(recv.Close)
	const hookToken = "hook-token-5e1f"
	// Seed 19 makes the second GET /media/{id} a 429 and the 14 after it
	// not: the confirm's one look (slow processing makes sure it comes)
	// passes, the await's first is refused.
	stack := workertest.Start(t, workertest.Options{AllowedHosts: []string{"127.0.0.1"}, Worker: true, Seed: 19, ProcessingDelay: time.Second,
		Faults: sandbox.FaultPlan{
			"POST /posts":     {LostReply: 1},
			"GET /media/{id}": {RateLimit: 0.2, RetryAfter: time.Second},
		},
		TracerProvider: tr.TracerProvider(), WebhookURL: recv.URL + "/hook?token=" + hookToken})
	if err := os.WriteFile(filepath.Join(stack.Root, "local.png"), testmedia.PNG(16, 16, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	w := &workerWorld{world: newWorld(t, worldOptions{redis: stack.Redis, allowedHosts: []string{"127.0.0.1"}, mediaRoot: stack.Root,
		tracing: tr.TracerProvider(), configure: func(c *Config) {
			c.TracerProvider, c.Propagator = tr.TracerProvider(), tr.Propagator()
		}})}

	traceID, callerID := randomHex(t, 16), randomHex(t, 8)
	body := fmt.Sprintf(`{"media":[{"source":"local.png"}],"post":{"profileIds":[%q],"caption":"traced"},"action":"publishNow"}`, stack.Profiles[0])
	r := w.publish(t, body, map[string]string{"traceparent": "00-" + traceID + "-" + callerID + "-01"})
	if r.status != http.StatusAccepted || r.record(t).TraceID != traceID {
		t.Fatalf("publish: %d %s; want 202 and the caller's trace %s", r.status, r.body, traceID)
	}
	rec := w.waitFor(t, r.record(t).ID, "notified", func(r *tasks.Record) bool {
		return r.State.Terminal() && r.Webhook != nil && r.Webhook.State == tasks.DeliveryDelivered
	})
	if rec.State != tasks.StateSucceeded {
		t.Fatalf("pipeline ended %s: %+v", rec.State, rec.Error)
	}
	stack.Worker.Shutdown() // every run's span has ended
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(got) != 1 || !strings.HasPrefix(got[0], "00-"+traceID+"-") {
		t.Errorf("the receiver got traceparents %q, want one of trace %s", got, traceID)
	}
	mu.Unlock()

	trace := j.Trace(t, traceID, 20)
	byID := map[string]jaegertest.Span{}
	for _, s := range trace.Spans {
		byID[s.SpanID] = s
		if s.TraceID != traceID {
			t.Errorf("span %q in trace %s", s.Name, s.TraceID)
		}
	}
	types := []string{tasks.TypePreflight, tasks.TypeMediaUpload, tasks.TypeMediaConfirm, tasks.TypeMediaAwait, tasks.TypePostAttach,
		tasks.TypePostWatch, tasks.TypeMediaCleanup, tasks.TypeNotifyWebhook}
	// stepOf is the task run a span is part of.
	stepOf := func(s jaegertest.Span) string {
		for p, ok := byID[s.ParentID]; ok; p, ok = byID[p.ParentID] {
			if slices.Contains(types, p.Name) {
				return p.Name
			}
		}
		return ""
	}
	server := trace.Named("POST /v1/pipelines")
	if len(server) != 1 || server[0].ParentID != callerID || server[0].ParentTraceID != traceID {
		t.Fatalf("API spans %+v, want one under the caller's span %s", server, callerID)
	}
	for _, typ := range types {
		if len(trace.Named(typ)) == 0 {
			t.Errorf("no %s span", typ)
		}
	}
	search := trace.Named("adoption search")
	if len(search) != 1 || stepOf(search[0]) != tasks.TypePostAttach || search[0].Tags["mediaflow.posts.found"] != float64(1) {
		t.Errorf("adoption search spans %+v, want one inside post:attach that found the post", search)
	}
	stepsOf := map[string][]string{
		"POST /media": {tasks.TypeMediaUpload}, "PUT {uploadUrl}": {tasks.TypeMediaUpload},
		"PATCH /media/{id}": {tasks.TypeMediaConfirm}, "GET /media/{id}": {tasks.TypeMediaConfirm, tasks.TypeMediaAwait},
		"POST /posts": {tasks.TypePostAttach}, "GET /posts": {tasks.TypePostAttach},
		"GET /posts/{id}": {tasks.TypePostAttach, tasks.TypePostWatch}, "PATCH /posts/{id}/stage/{stage}": {tasks.TypePostAttach},
		"DELETE /media/{id}": {tasks.TypeMediaCleanup}, "POST {webhook}": {tasks.TypeNotifyWebhook},
		"GET /profiles": {tasks.TypePreflight},
	}
	// Pre-flight reads the workspace's profiles only when the cached
	// directory does not know the post's: this trace may have no such call.
	optional := map[string]bool{"GET /profiles": true}
	seen := map[string]bool{}
	limited := 0
	for _, s := range trace.Spans {
		if s.Kind != "client" {
			continue
		}
		seen[s.Name] = true
		if want := stepsOf[s.Name]; !slices.Contains(want, stepOf(s)) {
			t.Errorf("call %q is part of %q, want one of %v", s.Name, stepOf(s), want)
		}
		if u, _ := s.Tags["url.full"].(string); strings.Contains(u, "?") {
			t.Errorf("call %q: url.full %q keeps its query", s.Name, u)
		}
		if s.Tags["http.response.status_code"] == float64(429) {
			limited++
			e := s.Event(swonkie.EventRateLimited)
			run := byID[s.ParentID]
			if e == nil || e.Fields[string(swonkie.AttrRetryAfterSeconds)] != float64(1) ||
				run.Tags["mediaflow.verdict"] != "rate_limited" || run.Tags["mediaflow.retryable"] != true || run.Tags["error.type"] != "429" {
				t.Errorf("the 429: events %+v, its run's tags %v", s.Events, run.Tags)
			}
		}
	}
	for name := range stepsOf {
		if !seen[name] && !optional[name] {
			t.Errorf("no %q span", name)
		}
	}
	if limited != 1 {
		t.Errorf("%d calls answered 429, want 1", limited)
	}
	for _, s := range trace.Spans {
		for _, id := range []string{rec.ID, rec.PostID, rec.Media[0].MediaID} {
			if strings.Contains(s.Name, id) {
				t.Errorf("span name %q holds id %s", s.Name, id)
			}
		}
	}
	for _, secret := range []string{workertest.APIKey, tokenA, tokenB, hookToken, "sig=", "se="} {
		if trace.Contains(secret) {
			t.Errorf("the trace holds %q", secret)
		}
	}
}

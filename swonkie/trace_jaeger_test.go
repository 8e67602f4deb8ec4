package swonkie_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/budget"
	"github.com/mediaflow/mediaflow/internal/jaegertest"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// TestTraceInJaeger sends one media's calls, a 429 among them, through
// the fleet budget to the sandbox, exports them to a real Jaeger and
// reads the trace back: a client span per call under the caller's span,
// named without ids; the 429 with the wait it asked for, and the wait the
// budget then imposed on the next call; no credential, upload query or
// signature anywhere in it.
func TestTraceInJaeger(t *testing.T) {
	t.Parallel()
	j := jaegertest.Shared(t)
	tr := j.Tracing(t, "swonkie-test", tracingsdk.Build{Version: "test"})
	r := redistest.New(t)
	// Seed 2 makes the first GET /media/{id} a 429 and the second not.
	f := newFixture(t, sandbox.Options{Seed: 2, Faults: sandbox.FaultPlan{
		"GET /media/{id}": {RateLimit: 0.5, RetryAfter: time.Second},
	}}, func(c *swonkie.Config) {
		c.TracerProvider = tr.TracerProvider()
		c.Budget = budget.NewFleet(r.Client, apiID, 1000, 100, nil, zerolog.Nop())
	})

	ctx, root := tr.TracerProvider().Tracer("test").Start(context.Background(), "media:upload")
	data := testmedia.PNG(4, 4, 0)
	m, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "p.png", FileSize: int64(len(data)), Width: 4, Height: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.Upload(ctx, m, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ConfirmMedia(ctx, m.MediaID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.GetMedia(ctx, m.MediaID); !swonkie.IsRateLimited(err) {
		t.Fatalf("first look: want a 429, got %v", err)
	}
	if _, err := f.c.GetMedia(ctx, m.MediaID); err != nil {
		t.Fatalf("second look: %v", err)
	}
	root.End()
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	got := j.Trace(t, root.SpanContext().TraceID().String(), 6)
	want := []string{"media:upload", "POST /media", "PUT {uploadUrl}", "PATCH /media/{id}", "GET /media/{id}", "GET /media/{id}"}
	if len(got.Spans) != len(want) {
		t.Fatalf("%d spans, want %d: %+v", len(got.Spans), len(want), got.Spans)
	}
	rootID := root.SpanContext().SpanID().String()
	for i, s := range got.Spans {
		if s.Name != want[i] {
			t.Errorf("span %d is %q, want %q", i, s.Name, want[i])
		}
		if i > 0 && (s.ParentID != rootID || s.Kind != "client") {
			t.Errorf("%s: parent %q kind %q, want a client span under %s", s.Name, s.ParentID, s.Kind, rootID)
		}
		if strings.Contains(s.Name, m.MediaID) {
			t.Errorf("span name %q holds the media id", s.Name)
		}
	}
	limited, next := got.Spans[4], got.Spans[5]
	if limited.Tags["http.response.status_code"] != float64(429) || !limited.Error || limited.Tags["error.type"] != "429" {
		t.Errorf("429 span tags %v", limited.Tags)
	}
	if e := limited.Event(swonkie.EventRateLimited); e == nil || e.Fields[string(swonkie.AttrRetryAfterSeconds)] != float64(1) {
		t.Errorf("429 span events %+v: want %s asking 1 s", limited.Events, swonkie.EventRateLimited)
	}
	e := next.Event(swonkie.EventBudgetWait)
	if e == nil {
		t.Fatalf("the call after the 429 has events %+v: want %s", next.Events, swonkie.EventBudgetWait)
	}
	// The budget held the call for what was left of the pause (its exact
	// length is TestCallSpans's, on a fake clock).
	if w, _ := e.Fields[string(swonkie.AttrWaitSeconds)].(float64); w <= 0 || e.Fields[string(swonkie.AttrLimiter)] != "budget" {
		t.Errorf("budget wait event %v after a 1 s Retry-After", e.Fields)
	}
	if next.Tags["http.response.status_code"] != float64(200) || next.Error {
		t.Errorf("second look tags %v", next.Tags)
	}
	if u, _ := got.Spans[2].Tags["url.full"].(string); u == "" || strings.Contains(u, "?") {
		t.Errorf("upload url.full %q: want the URL without its query", u)
	}
	_, query, _ := strings.Cut(m.UploadURL, "?")
	secrets := []string{apiID, apiKey, query}
	for _, kv := range strings.Split(query, "&") {
		if _, v, _ := strings.Cut(kv, "="); len(v) >= 8 {
			secrets = append(secrets, v)
		}
	}
	for _, s := range secrets {
		if got.Contains(s) {
			t.Errorf("the trace holds a secret: %q", s)
		}
	}
}

package swonkie_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// pausingBudget keeps the pause a 429 asked for and makes the next call
// wait it out on a fake clock, as the fleet budget does on a real one.
type pausingBudget struct {
	mu    sync.Mutex
	now   time.Time
	pause time.Duration
}

func (b *pausingBudget) Now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.now
}

func (b *pausingBudget) Wait(context.Context, string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.now = b.now.Add(b.pause)
	b.pause = 0
	return nil
}

func (b *pausingBudget) Throttled(_ string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.pause = d
}

// TestCallSpans: each call and upload is one client span named by method
// and endpoint template, carrying the status; a 429 is an event with the
// wait it asked for, and the budget's wait that followed is an event on
// the call it held.
func TestCallSpans(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	budget := &pausingBudget{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	f := newFixture(t, sandbox.Options{Faults: sandbox.FaultPlan{
		"GET /labels": {RateLimit: 1, RetryAfter: 3 * time.Second},
	}}, func(c *swonkie.Config) {
		c.TracerProvider, c.Budget, c.Now = tp, budget, budget.Now
	})
	ctx := context.Background()
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
	if _, err := f.c.ListLabels(ctx); !swonkie.IsRateLimited(err) {
		t.Fatalf("labels: want a 429, got %v", err)
	}
	if _, err := f.c.ListProfiles(ctx); err != nil {
		t.Fatal(err)
	}

	spans := rec.Ended()
	want := []struct {
		name   string
		status int64
	}{
		{"POST /media", 201}, {"PUT {uploadUrl}", 201}, {"PATCH /media/{id}", 200},
		{"GET /labels", 429}, {"GET /profiles", 200},
	}
	if len(spans) != len(want) {
		t.Fatalf("%d spans, want %d: %v", len(spans), len(want), names(spans))
	}
	for i, w := range want {
		s := spans[i]
		if s.Name() != w.name || s.SpanKind() != trace.SpanKindClient {
			t.Errorf("span %d: %s (%s), want %s (client)", i, s.Name(), s.SpanKind(), w.name)
		}
		if got := attr(s.Attributes(), "http.response.status_code"); got.AsInt64() != w.status {
			t.Errorf("%s: status %v, want %d", s.Name(), got.String(), w.status)
		}
		if got := attr(s.Attributes(), "url.template").AsString(); got == "" || !strings.HasSuffix(w.name, " "+got) {
			t.Errorf("%s: url.template %q", s.Name(), got)
		}
	}
	if got := attr(spans[3].Attributes(), "error.type").AsString(); got != "429" {
		t.Errorf("429 span: error.type %q, want 429", got)
	}
	if got := attr(spans[1].Attributes(), "url.full").AsString(); strings.Contains(got, "?") || !strings.HasPrefix(got, f.r.URL) {
		t.Errorf("upload url.full %q: want the URL without its query", got)
	}
	if ev := event(spans[3], swonkie.EventRateLimited); ev == nil || attr(ev.Attributes, swonkie.AttrRetryAfterSeconds).AsFloat64() != 3 {
		t.Errorf("429 span events %v: want %s with a 3 s retry after", spans[3].Events(), swonkie.EventRateLimited)
	}
	if ev := event(spans[4], swonkie.EventBudgetWait); ev == nil || attr(ev.Attributes, swonkie.AttrWaitSeconds).AsFloat64() != 3 {
		t.Errorf("next call's events %v: want %s of 3 s", spans[4].Events(), swonkie.EventBudgetWait)
	}
	for _, s := range spans[:3] {
		if len(s.Events()) != 0 {
			t.Errorf("%s: events %v, want none (it did not wait)", s.Name(), s.Events())
		}
	}
	noSecrets(t, spans, m.MediaID, m.UploadURL)
}

// TestTransportErrorSpan: a call that got no answer is a failed span with
// error.type naming why, and no status.
func TestTransportErrorSpan(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c := newClient(t, "http://127.0.0.1:1/v2", func(c *swonkie.Config) { c.TracerProvider = tp })
	if _, err := c.GetMedia(context.Background(), "MediaId+/x="); err == nil {
		t.Fatal("no error from a closed port")
	}
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != "GET /media/{id}" {
		t.Fatalf("spans %v", names(spans))
	}
	s := spans[0]
	if got := attr(s.Attributes(), "error.type").AsString(); got != "transport" {
		t.Errorf("error.type %q, want transport", got)
	}
	if s.Status().Code.String() != "Error" {
		t.Errorf("status %v, want Error", s.Status())
	}
	if attr(s.Attributes(), "http.response.status_code").Type() != attribute.EMPTY {
		t.Error("a call without an answer has a status code")
	}
}

// noSecrets fails when a span name holds an id, or any attribute, event
// or status holds the credentials or an upload URL's query.
func noSecrets(t *testing.T, spans []sdktrace.ReadOnlySpan, id, uploadURL string) {
	t.Helper()
	_, query, _ := strings.Cut(uploadURL, "?")
	secrets := []string{apiID, apiKey, query}
	for _, kv := range strings.Split(query, "&") {
		if _, v, _ := strings.Cut(kv, "="); len(v) >= 8 {
			secrets = append(secrets, v)
		}
	}
	for _, s := range spans {
		if strings.Contains(s.Name(), id) {
			t.Errorf("span name %q holds the id %s", s.Name(), id)
		}
		texts := []string{s.Status().Description}
		for _, a := range s.Attributes() {
			texts = append(texts, a.Value.String())
		}
		for _, e := range s.Events() {
			texts = append(texts, e.Name)
			for _, a := range e.Attributes {
				texts = append(texts, a.Value.String())
			}
		}
		for _, text := range texts {
			for _, secret := range secrets {
				if secret != "" && strings.Contains(text, secret) {
					t.Errorf("span %s holds a secret: %q", s.Name(), text)
				}
			}
		}
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name())
	}
	return out
}

func attr(attrs []attribute.KeyValue, key attribute.Key) attribute.Value {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return attribute.Value{}
}

func event(s sdktrace.ReadOnlySpan, name string) *sdktrace.Event {
	for _, e := range s.Events() {
		if e.Name == name {
			return &e
		}
	}
	return nil
}

// BenchmarkCallTracing is one API call against a local server with tracing
// off (the global no-op provider) and on (the SDK, every span sampled and
// handed to a recorder): what a span costs a call.
func BenchmarkCallTracing(b *testing.B) {
	f := newFixture(b, sandbox.Options{})
	id := f.readyMedia(b)
	for _, tc := range []struct {
		name string
		tp   trace.TracerProvider
	}{
		{"off", nil},
		{"on", sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c := newClient(b, f.r.BaseURL, func(c *swonkie.Config) { c.TracerProvider = tc.tp })
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.GetMedia(ctx, id); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

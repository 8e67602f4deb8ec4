package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"

	"github.com/mediaflow/mediaflow/internal/jaegertest"
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

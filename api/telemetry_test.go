package api

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/tracing"
)

// tracedWorld is a world whose API reports to its own metrics and span
// recorder, and logs through the tracing hook.
func tracedWorld(t *testing.T) (*world, *metrics.Metrics, *tracetest.SpanRecorder) {
	t.Helper()
	m := metrics.New(metrics.Options{})
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	w := newWorld(t, worldOptions{configure: func(c *Config) {
		c.Metrics, c.TracerProvider, c.Propagator = m, tp, propagation.TraceContext{}
		c.Logger = c.Logger.Hook(tracing.LogHook{})
	}})
	return w, m, rec
}

// TestServerSpanContinuesTraceparent: a caller's traceparent on POST
// /v1/pipelines is the parent of the API's server span, named by method
// and route; the access-log line carries the span's ids.
func TestServerSpanContinuesTraceparent(t *testing.T) {
	t.Parallel()
	w, _, rec := tracedWorld(t)
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	r := w.publish(t, validRequest("traced"), map[string]string{"traceparent": parent})
	if r.status != http.StatusAccepted {
		t.Fatalf("publish: %d %s", r.status, r.body)
	}
	id := r.record(t).ID
	w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + id})

	spans := rec.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	post, get := spans[0], spans[1]
	if post.Name() != "POST /v1/pipelines" || post.SpanKind() != trace.SpanKindServer {
		t.Errorf("span %q (%s), want POST /v1/pipelines (server)", post.Name(), post.SpanKind())
	}
	if got := post.Parent(); got.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" || got.SpanID().String() != "b7ad6b7169203331" || !got.IsRemote() {
		t.Errorf("parent %v, want the caller's span b7ad6b7169203331 of trace 0af7…", got)
	}
	if get.Name() != "GET /v1/pipelines/{id}" || strings.Contains(get.Name(), id) {
		t.Errorf("span %q, want GET /v1/pipelines/{id}", get.Name())
	}
	if get.Parent().IsValid() {
		t.Errorf("a request without traceparent has parent %v; want a new trace", get.Parent())
	}
	for _, s := range spans {
		for _, a := range s.Attributes() {
			if a.Key == "http.route" && strings.Contains(a.Value.AsString(), id) {
				t.Errorf("%s: http.route %q holds the id", s.Name(), a.Value.AsString())
			}
		}
	}
	wantLog := `"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"` + post.SpanContext().SpanID().String() + `"`
	if logs := w.logs.String(); !strings.Contains(logs, wantLog) {
		t.Errorf("access log lacks %s:\n%s", wantLog, logs)
	}
}

// TestAPIMetrics: after requests the scrape holds them by route template,
// method and status class, with their latency, and every route's series
// exist from the start.
func TestAPIMetrics(t *testing.T) {
	t.Parallel()
	w, m, _ := tracedWorld(t)
	if got := apiCount(t, m, "/v1/pipelines/{id}/cancel", "POST", "2xx"); got != 0 {
		t.Fatalf("cancel before any request: %v", got)
	}
	w.mustPublish(t, validRequest("one"))
	w.mustPublish(t, validRequest("two"))
	w.publish(t, "{", nil)
	w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/nope"})
	w.do(t, call{method: http.MethodGet, path: "/nowhere/at/all"})
	w.do(t, call{method: "BREW", path: "/v1/pipelines"})

	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"/v1/pipelines", "POST", "2xx", 2},
		{"/v1/pipelines", "POST", "4xx", 1},
		{"/v1/pipelines/{id}", "GET", "4xx", 1},
		{"unmatched", "GET", "4xx", 1},
		{"/v1/pipelines", "other", "4xx", 1},
		{"/v1/pipelines/{id}/cancel", "POST", "2xx", 0},
	} {
		if got := apiCount(t, m, c.route, c.method, c.code); got != c.want {
			t.Errorf("%s %s %s: %v requests, want %v", c.method, c.route, c.code, got, c.want)
		}
	}
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var timed uint64
	for _, f := range families {
		if f.GetName() == "mediaflow_api_request_duration_seconds" {
			for _, s := range f.GetMetric() {
				timed += s.GetHistogram().GetSampleCount()
				for _, l := range s.GetLabel() {
					if l.GetName() == "route" && strings.Contains(l.GetValue(), "nope") {
						t.Errorf("a path became a route label: %v", l.GetValue())
					}
				}
			}
		}
	}
	if timed != 6 {
		t.Errorf("%d requests timed, want 6", timed)
	}
}

func apiCount(t *testing.T, m *metrics.Metrics, route, method, code string) float64 {
	t.Helper()
	families, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != "mediaflow_api_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			if labels(s) == route+" "+method+" "+code {
				return s.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no series mediaflow_api_requests_total{route=%q,method=%q,code=%q}", route, method, code)
	return 0
}

func labels(s *dto.Metric) string {
	v := map[string]string{}
	for _, l := range s.GetLabel() {
		v[l.GetName()] = l.GetValue()
	}
	return v["route"] + " " + v["method"] + " " + v["code"]
}

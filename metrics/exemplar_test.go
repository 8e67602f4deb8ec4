package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/metrics"
)

// spanContext is ctx holding a remote span: sampled or not, as a tracing
// SDK would have decided.
func spanContext(sampled bool) (context.Context, string) {
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, Remote: true})
	if sampled {
		sc = sc.WithTraceFlags(trace.FlagsSampled)
	}
	return trace.ContextWithSpanContext(context.Background(), sc), tid.String()
}

// exemplars lists the trace_id exemplars on every bucket of a histogram
// series.
func exemplars(t *testing.T, m *metrics.Metrics, name string, labelPairs ...string) []string {
	t.Helper()
	s := series(t, m, name, labelPairs...)
	if s == nil {
		t.Fatalf("no series %s%v", name, labelPairs)
	}
	var out []string
	for _, b := range s.GetHistogram().GetBucket() {
		if e := b.GetExemplar(); e != nil {
			for _, l := range e.GetLabel() {
				if l.GetName() == "trace_id" {
					out = append(out, l.GetValue())
				}
			}
		}
	}
	return out
}

// TestDurationExemplars: the task, Swonkie, pipeline and API duration
// histograms carry the trace id of the span they were observed in, when
// that span is sampled, and nothing otherwise.
func TestDurationExemplars(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(srv.Close)

	observations := []struct {
		family  string
		labels  []string
		observe func(m *metrics.Metrics, ctx context.Context)
	}{
		{"mediaflow_task_duration_seconds", []string{"type", "media:upload"}, func(m *metrics.Metrics, ctx context.Context) {
			h := m.TaskMiddleware(nil)(asynq.HandlerFunc(func(context.Context, *asynq.Task) error { return nil }))
			_ = h.ProcessTask(ctx, asynq.NewTask("media:upload", nil))
		}},
		{"mediaflow_swonkie_request_duration_seconds", []string{"endpoint", "/media"}, func(m *metrics.Metrics, ctx context.Context) {
			client := &http.Client{Transport: m.InstrumentTransport(http.DefaultTransport, endpointOf, parseRetryAfter)}
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/v2/media", strings.NewReader("{}"))
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}},
		{"mediaflow_pipeline_attach_duration_seconds", nil, func(m *metrics.Metrics, ctx context.Context) {
			m.ObserveAttachedContext(ctx, 42*time.Second)
		}},
		{"mediaflow_pipeline_publish_duration_seconds", nil, func(m *metrics.Metrics, ctx context.Context) {
			m.ObservePublishedContext(ctx, time.Hour)
		}},
		{"mediaflow_api_request_duration_seconds", []string{"route", "/v1/pipelines"}, func(m *metrics.Metrics, ctx context.Context) {
			m.APIRequest(ctx, "/v1/pipelines", http.MethodPost, http.StatusAccepted, 4*time.Millisecond)
		}},
	}
	for _, o := range observations {
		t.Run(o.family, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name    string
				ctx     func() (context.Context, string)
				want    bool
				wantIDs int
			}{
				{"sampled", func() (context.Context, string) { return spanContext(true) }, true, 1},
				{"not sampled", func() (context.Context, string) { return spanContext(false) }, false, 0},
				{"no span", func() (context.Context, string) { return context.Background(), "" }, false, 0},
			} {
				m := metrics.New(metrics.Options{})
				ctx, id := tc.ctx()
				o.observe(m, ctx)
				got := exemplars(t, m, o.family, o.labels...)
				if len(got) != tc.wantIDs || (tc.want && got[0] != id) {
					t.Errorf("%s: exemplars %v, want %d with trace id %s", tc.name, got, tc.wantIDs, id)
				}
			}
		})
	}
}

// TestExemplarsInOpenMetricsScrape: Prometheus asks for OpenMetrics, the
// only format exemplars travel in, and gets the trace id beside the
// bucket.
func TestExemplarsInOpenMetricsScrape(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	ctx, id := spanContext(true)
	m.ObserveAttachedContext(ctx, 42*time.Second)
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	req, _ := http.NewRequest(http.MethodGet, srv.URL, nil)
	req.Header.Set("Accept", "application/openmetrics-text;version=1.0.0;q=0.9,text/plain;version=0.0.4;q=0.5")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	want := `mediaflow_pipeline_attach_duration_seconds_bucket{le="60.0"} 1 # {trace_id="` + id + `"} 42`
	if !strings.Contains(string(body), want) {
		t.Errorf("scrape (%s) lacks %s", resp.Header.Get("Content-Type"), want)
	}
}

// TestAPIRequestLabels: methods outside the standard set share one label
// value, and statuses count by class.
func TestAPIRequestLabels(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.InitAPIRoute("/v1/pipelines", http.MethodPost)
	if !hasSeries(t, m, "mediaflow_api_requests_total", "route", "/v1/pipelines", "method", "POST", "code", "5xx") {
		t.Error("InitAPIRoute made no 5xx series")
	}
	m.APIRequest(context.Background(), "unmatched", "BREW", http.StatusMethodNotAllowed, time.Millisecond)
	m.APIRequest(context.Background(), "/v1/pipelines", http.MethodPost, http.StatusAccepted, time.Millisecond)
	m.APIRequest(context.Background(), "/v1/pipelines", http.MethodPost, http.StatusOK, time.Millisecond)
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"route", "unmatched", "method", "other", "code", "4xx"}, 1},
		{[]string{"route", "/v1/pipelines", "method", "POST", "code", "2xx"}, 2},
		{[]string{"route", "/v1/pipelines", "method", "POST", "code", "5xx"}, 0},
	} {
		if got := value(t, m, "mediaflow_api_requests_total", c.labels...); got != c.want {
			t.Errorf("%v: %v, want %v", c.labels, got, c.want)
		}
	}
	if hasSeries(t, m, "mediaflow_api_requests_total", "method", "BREW") {
		t.Error("an unknown method became a label value")
	}
}

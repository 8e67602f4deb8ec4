package tracingsdk

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func envOf(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// TestOnOff: tracing is on only when a variable chooses an exporter, and
// a setting it cannot honour is an error naming the variable.
func TestOnOff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		env      []string
		on       bool
		endpoint string
		err      string
	}{
		{"nothing set", nil, false, "", ""},
		{"only a service name", []string{"OTEL_SERVICE_NAME", "x"}, false, "", ""},
		{"only a sampler", []string{"OTEL_TRACES_SAMPLER", "always_on"}, false, "", ""},
		{"base endpoint", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/"}, true, "http://c:4318/v1/traces", ""},
		{"traces endpoint as given", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t/x"}, true, "https://t/x", ""},
		{"exporter otlp alone", []string{"OTEL_TRACES_EXPORTER", "otlp"}, true, "http://localhost:4318/v1/traces", ""},
		{"exporter none wins", []string{"OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, false, "", ""},
		{"SDK disabled", []string{"OTEL_SDK_DISABLED", "true", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"}, false, "", ""},
		{"grpc refused", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}, false, "", "only http/protobuf"},
		{"zipkin refused", []string{"OTEL_TRACES_EXPORTER", "zipkin"}, false, "", "OTEL_TRACES_EXPORTER"},
		{"bad sampler", []string{"OTEL_TRACES_SAMPLER", "sometimes"}, false, "", "OTEL_TRACES_SAMPLER"},
		{"bad ratio", []string{"OTEL_TRACES_SAMPLER", "traceidratio", "OTEL_TRACES_SAMPLER_ARG", "2"}, false, "", "OTEL_TRACES_SAMPLER_ARG"},
		{"not a URL", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "c:4318"}, false, "", "not an http(s) URL"},
		{"bad header list keeps the value out", []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c", "OTEL_EXPORTER_OTLP_HEADERS", "authorization=Bearer%zzsecret"}, false, "", "authorization"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := readEnv(envOf(tc.env...))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret") {
					t.Fatalf("error %v, want one mentioning %q (and no header value)", err, tc.err)
				}
				tr, err := Setup(context.Background(), envOf(tc.env...), Build{})
				if err == nil || tr.Enabled() {
					t.Errorf("Setup: %v, enabled %v", err, tr.Enabled())
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.on != tc.on || cfg.endpoint != tc.endpoint {
				t.Errorf("on %v endpoint %q, want %v %q", cfg.on, cfg.endpoint, tc.on, tc.endpoint)
			}
			tr, err := Setup(context.Background(), envOf(tc.env...), Build{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = tr.Shutdown(context.Background()) }()
			if tr.Enabled() != tc.on {
				t.Errorf("Enabled() = %v, want %v", tr.Enabled(), tc.on)
			}
			_, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "s")
			if span.IsRecording() != tc.on {
				t.Errorf("a span records: %v, want %v", span.IsRecording(), tc.on)
			}
		})
	}
}

// TestResourceAndSampler: the resource holds the build and the
// environment's attributes, OTEL_SERVICE_NAME wins, and the sampler is the
// one named.
func TestResourceAndSampler(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tr, err := WithProcessor(envOf(
		"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment.name=prod,service.name=ignored,team=a%20b",
		"OTEL_SERVICE_NAME", "worker-eu",
		"OTEL_TRACES_SAMPLER", "parentbased_always_off",
	), Build{Version: "v1.2.3", Commit: "abc", Workspace: "ws"}, rec)
	if err != nil {
		t.Fatal(err)
	}
	tracer := tr.TracerProvider().Tracer("t")
	_, dropped := tracer.Start(context.Background(), "root")
	dropped.End()
	sampledParent := trace.ContextWithRemoteSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled, Remote: true}))
	_, kept := tracer.Start(sampledParent, "child")
	kept.End()
	spans := rec.Ended()
	if len(spans) != 1 || spans[0].Name() != "child" {
		t.Fatalf("parentbased_always_off kept %d spans; want only the sampled parent's child", len(spans))
	}
	res := map[attribute.Key]string{}
	for _, kv := range spans[0].Resource().Attributes() {
		res[kv.Key] = kv.Value.String()
	}
	for k, v := range map[attribute.Key]string{
		"service.name": "worker-eu", "service.version": "v1.2.3", "vcs.ref.head.revision": "abc",
		"mediaflow.workspace": "ws", "deployment.environment.name": "prod", "team": "a b", "telemetry.sdk.language": "go",
	} {
		if res[k] != v {
			t.Errorf("resource %s = %q, want %q (all: %v)", k, res[k], v, res)
		}
	}
}

// TestOffCostsNothing: with tracing off a span is the no-op one, and
// starting and ending it allocates at most the context that carries it.
func TestOffCostsNothing(t *testing.T) {
	tr, err := Setup(context.Background(), envOf(), Build{})
	if err != nil {
		t.Fatal(err)
	}
	tracer := tr.TracerProvider().Tracer("t")
	ctx := context.Background()
	allocs := testing.AllocsPerRun(100, func() {
		_, span := tracer.Start(ctx, "s")
		if span.IsRecording() {
			t.Fatal("a span records with tracing off")
		}
		span.End()
	})
	if allocs > 1 {
		t.Errorf("%v allocations per span with tracing off", allocs)
	}
}

// TestShutdownFlushes: spans still in the batch when the program stops
// reach the collector during Shutdown.
func TestShutdownFlushes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var posts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		posts = append(posts, r.Method+" "+r.URL.Path+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("X-Token"))
		mu.Unlock()
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	tr, err := Setup(context.Background(), envOf("OTEL_EXPORTER_OTLP_ENDPOINT", srv.URL, "OTEL_EXPORTER_OTLP_HEADERS", "x-token=t%3D1"), Build{})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tr.TracerProvider().Tracer("t").Start(context.Background(), "last words")
	span.End()
	mu.Lock()
	before := len(posts)
	mu.Unlock()
	if before != 0 {
		t.Fatalf("%d exports before Shutdown; the batch should still hold the span", before)
	}
	if err := tr.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(posts) != 1 || posts[0] != "POST /v1/traces application/x-protobuf t=1" {
		t.Errorf("exports %q, want one OTLP/HTTP protobuf POST with the configured header", posts)
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/jaegertest"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/tasks"
	"go.opentelemetry.io/otel"
)

// TestTracingSettingsFailFast: an OTEL_* setting the worker cannot honour
// stops it at start with one line naming the variable, before it connects
// to anything, and a header value never reaches that line.
func TestTracingSettingsFailFast(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"grpc", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			"OTLP protocol \"grpc\": only http/protobuf is supported"},
		{"sampler", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_SAMPLER": "often"},
			"OTEL_TRACES_SAMPLER \"often\""},
		{"header", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_EXPORTER_OTLP_HEADERS": "api-key=hunter2%"},
			"OTEL_EXPORTER_OTLP_HEADERS: the value of \"api-key\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.env["SWONKIE_API_ID"], tc.env["SWONKIE_API_KEY"], tc.env["METRICS_ADDR"] = "id", "key", ""
			var out, errOut bytes.Buffer
			// Redis on a closed port: the refusal must come before it is tried.
			code := run(context.Background(), []string{"-redis", "redis://127.0.0.1:1/0"}, envOf(tc.env), &out, &errOut)
			if code != 2 || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and one line saying %q", code, errOut.String(), tc.want)
			}
			if strings.Contains(errOut.String(), "hunter2") {
				t.Error("a header value was printed")
			}
		})
	}
}

// TestTracingReachesEveryPart: with OTEL_* set, the worker hands its
// provider to the API, the client, the tasks and the Swonkie client (a
// test runs the worker beside others, so nothing is installed globally),
// and a pipeline sent with a traceparent is one trace in Jaeger, flushed
// when the worker stops.
func TestTracingReachesEveryPart(t *testing.T) {
	t.Parallel()
	j := jaegertest.Shared(t)
	r := redistest.New(t)
	addr := freeport.TestAddr(t)
	p := startRun(t, []string{"-sandbox", "-redis", r.URL, "-metrics-addr", "off"}, map[string]string{
		"API_ADDR": addr, "API_TOKENS": testToken, "MEDIA_ROOT": writeSample(t),
		"OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLPEndpoint, "OTEL_SERVICE_NAME": "worker-tracing-test",
		"TRACE_URL_TEMPLATE": "http://localhost:16686/trace/{traceId}",
	})
	traceID := "4bf92f3577b34da6a3ce929d0e0e4736"
	var status int
	var body []byte
	for range 200 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/pipelines", strings.NewReader(apiTestRequest(t)))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		status = resp.StatusCode
		body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		break
	}
	var rec tasks.Record
	if err := json.Unmarshal(body, &rec); status != http.StatusAccepted || err != nil || rec.TraceID != traceID {
		t.Fatalf("publish: %d %s; want 202 in trace %s\n%s", status, body, traceID, p.errOut.String())
	}
	c := tasks.NewClient(r.Client)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if done, err := c.Wait(ctx, rec.ID, 100*time.Millisecond, nil); err != nil || done.State != tasks.StateSucceeded {
		t.Fatalf("the pipeline: %v %+v", err, done)
	}
	p.stop(t) // flushes the spans
	if _, global := otel.GetTracerProvider().(*sdktrace.TracerProvider); global {
		t.Error("a worker run by a test installed its tracing globally")
	}
	got := j.Trace(t, traceID, 8)
	for _, name := range []string{"POST /v1/pipelines", "pipeline publish", tasks.TypeMediaUpload, "POST /media", tasks.TypePostAttach, "POST /posts"} {
		s := got.Named(name)
		if len(s) == 0 {
			t.Errorf("no %q span in the trace", name)
			continue
		}
		if s[0].Service != "worker-tracing-test" || s[0].Resource["service.version"] == nil {
			t.Errorf("%q: service %q resource %v", name, s[0].Service, s[0].Resource)
		}
	}
}

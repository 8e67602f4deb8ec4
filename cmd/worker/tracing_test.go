package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
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

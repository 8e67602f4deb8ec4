package ui

import (
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/mediaflow/mediaflow/tasks"
)

// TestTraceLink: a pipeline's page shows its trace id, as a link when
// TRACE_URL_TEMPLATE is set, and nothing for a pipeline without a trace.
func TestTraceLink(t *testing.T) {
	t.Parallel()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	for _, tc := range []struct {
		name, template, want string
		traced               bool
	}{
		{"linked", "https://jaeger.example:16686/trace/{traceId}?uiFind=x&y=1", `<a class="trace" href="https://jaeger.example:16686/trace/ID?uiFind=x&amp;y=1" rel="noopener noreferrer">ID</a>`, true},
		{"no template", "", `<code class="trace">ID</code>`, true},
		{"no trace", "https://jaeger.example/trace/{traceId}", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := worldOptions{traceURL: tc.template}
			if tc.traced {
				o.tracing = tp
			}
			w := newWorld(t, o)
			rec := w.publish(t, "trace-"+tc.name, tasks.ActionPublishNow, w.profile)
			if (rec.TraceID != "") != tc.traced {
				t.Fatalf("record trace id %q with tracing %v", rec.TraceID, tc.traced)
			}
			b := w.browser(t)
			b.mustLogin(tokenA)
			a := b.get(Prefix + "pipelines/" + rec.ID)
			if a.status != 200 {
				t.Fatalf("page: %d", a.status)
			}
			want := strings.ReplaceAll(tc.want, "ID", rec.TraceID)
			if tc.traced && !strings.Contains(a.body, "<dt>Trace</dt><dd>"+want+"</dd>") {
				t.Errorf("page lacks %s", want)
			}
			if !tc.traced && strings.Contains(a.body, "<dt>Trace</dt>") {
				t.Error("a pipeline without a trace shows one")
			}
		})
	}
}

func TestCheckTraceURL(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		template string
		ok       bool
	}{
		{"", true},
		{"http://localhost:16686/trace/{traceId}", true},
		{"https://grafana.example/explore?left={\"queries\":[{\"query\":\"{traceId}\"}]}", true},
		{"http://localhost:16686/trace/", false},
		{"/trace/{traceId}", false},
		{"javascript:alert('{traceId}')", false},
	} {
		if err := CheckTraceURL(tc.template); (err == nil) != tc.ok {
			t.Errorf("CheckTraceURL(%q) = %v, want ok %v", tc.template, err, tc.ok)
		}
	}
	w := newWorld(t, worldOptions{})
	_, err := New(w.client, Config{Tokens: []string{tokenA}, Redis: w.redis.Client, TraceURL: "ftp://x/{traceId}"})
	if err == nil || !strings.Contains(err.Error(), "trace URL") {
		t.Errorf("New with an ftp trace URL: %v, want a refusal naming the trace URL", err)
	}
}

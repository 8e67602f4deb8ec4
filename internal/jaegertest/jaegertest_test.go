package jaegertest_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/jaegertest"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// TestRoundTrip: spans sent through tracingsdk.Setup's exporter come back
// from Jaeger's query API as one trace, with their parent, kind, events,
// attributes and the build's resource.
func TestRoundTrip(t *testing.T) {
	j := jaegertest.Shared(t)
	t.Logf("jaeger: binary found or built in %v, started in %v", jaegertest.BuildTime, jaegertest.StartTime)
	tr := j.Tracing(t, "jaegertest-roundtrip", tracingsdk.Build{Version: "v9.9.9", Commit: "abc123", Workspace: "ws1"})
	tracer := tr.TracerProvider().Tracer("test")

	ctx, root := tracer.Start(context.Background(), "root", trace.WithSpanKind(trace.SpanKindServer))
	_, child := tracer.Start(ctx, "child", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attribute.String("k", "v")))
	child.AddEvent("waited", trace.WithAttributes(attribute.Float64("seconds", 1.5)))
	child.End()
	root.End()
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}

	got := j.Trace(t, root.SpanContext().TraceID().String(), 2)
	if len(got.Spans) != 2 {
		t.Fatalf("%d spans, want 2", len(got.Spans))
	}
	r, c := got.Named("root"), got.Named("child")
	if len(r) != 1 || len(c) != 1 {
		t.Fatalf("spans %+v", got.Spans)
	}
	if c[0].ParentID != r[0].SpanID || r[0].ParentID != "" {
		t.Errorf("child's parent %q, root %q (root's parent %q)", c[0].ParentID, r[0].SpanID, r[0].ParentID)
	}
	if r[0].Kind != "server" || c[0].Kind != "client" || c[0].Tags["k"] != "v" {
		t.Errorf("kinds %q %q, tags %v", r[0].Kind, c[0].Kind, c[0].Tags)
	}
	if e := c[0].Event("waited"); e == nil || e.Fields["seconds"] != 1.5 {
		t.Errorf("events %+v", c[0].Events)
	}
	res := r[0].Resource
	if r[0].Service != "jaegertest-roundtrip" || res["service.version"] != "v9.9.9" || res["vcs.ref.head.revision"] != "abc123" || res["mediaflow.workspace"] != "ws1" {
		t.Errorf("service %q, resource %v", r[0].Service, res)
	}
}

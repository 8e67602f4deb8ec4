package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/tracing"
)

func recorder() (trace.Tracer, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	return sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test"), rec
}

// TestCarrier: a carrier written from a span names that span, survives
// being stored as JSON, and is nil when there is no span.
func TestCarrier(t *testing.T) {
	t.Parallel()
	tracer, _ := recorder()
	ctx, span := tracer.Start(context.Background(), "request")
	c := tracing.Inject(ctx)
	if len(c) != 1 || !strings.HasPrefix(c["traceparent"], "00-"+span.SpanContext().TraceID().String()+"-") {
		t.Fatalf("carrier %v", c)
	}
	if got := c.SpanContext(); got.SpanID() != span.SpanContext().SpanID() || !got.IsRemote() || !got.IsSampled() {
		t.Errorf("carrier names %v, want the span %v", got, span.SpanContext())
	}
	if c.TraceID() != span.SpanContext().TraceID().String() {
		t.Errorf("TraceID %q", c.TraceID())
	}
	if got := tracing.Inject(context.Background()); got != nil {
		t.Errorf("carrier %v without a span, want nil", got)
	}
	var empty tracing.Carrier
	if empty.SpanContext().IsValid() || empty.TraceID() != "" {
		t.Error("an empty carrier names a span")
	}
	if (tracing.Carrier{"traceparent": "garbage"}).SpanContext().IsValid() {
		t.Error("an unreadable carrier names a span")
	}
}

// TestChildAndLinked: StartChild continues the carrier's trace under its
// span; StartLinked starts a new trace that links to it.
func TestChildAndLinked(t *testing.T) {
	// The helpers use the global provider; this test installs its own.
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	restore := setGlobal(tp)
	defer restore()

	ctx, parent := tp.Tracer("test").Start(context.Background(), "publish")
	c := tracing.Inject(ctx)
	parent.End()

	_, child := tracing.StartChild(context.Background(), c, "media:upload")
	child.End()
	_, linked := tracing.StartLinked(context.Background(), c, "post:watch")
	linked.End()
	_, orphan := tracing.StartChild(context.Background(), nil, "cleanup:sweep")
	orphan.End()

	spans := rec.Ended()
	if len(spans) != 4 {
		t.Fatalf("%d spans", len(spans))
	}
	p, ch, l, o := spans[0], spans[1], spans[2], spans[3]
	if ch.Parent().SpanID() != p.SpanContext().SpanID() || ch.SpanContext().TraceID() != p.SpanContext().TraceID() {
		t.Errorf("child's parent %v, want %v", ch.Parent(), p.SpanContext())
	}
	if l.Parent().IsValid() || l.SpanContext().TraceID() == p.SpanContext().TraceID() {
		t.Errorf("linked span descends from %v in trace %v; want a new trace", l.Parent(), l.SpanContext().TraceID())
	}
	if len(l.Links()) != 1 || l.Links()[0].SpanContext.SpanID() != p.SpanContext().SpanID() {
		t.Errorf("links %v, want the publish span", l.Links())
	}
	if o.Parent().IsValid() {
		t.Errorf("a span from an empty carrier has parent %v", o.Parent())
	}
}

type verdict struct{ kind string }

func (v verdict) Error() string     { return "upload failed: " + v.kind }
func (v verdict) ErrorType() string { return v.kind }

// TestEnd: a failed span has status Error, the error's text, and the
// class its ErrorTyper names, found through wrapping; others are _OTHER.
func TestEnd(t *testing.T) {
	t.Parallel()
	tracer, rec := recorder()
	for _, err := range []error{nil, fmt.Errorf("step: %w", verdict{"rate_limited"}), errors.New("plain")} {
		_, s := tracer.Start(context.Background(), "s")
		tracing.End(s, err)
	}
	spans := rec.Ended()
	want := []struct {
		code codes.Code
		typ  string
	}{{codes.Unset, ""}, {codes.Error, "rate_limited"}, {codes.Error, "_OTHER"}}
	for i, w := range want {
		var typ string
		for _, a := range spans[i].Attributes() {
			if a.Key == attribute.Key("error.type") {
				typ = a.Value.AsString()
			}
		}
		if spans[i].Status().Code != w.code || typ != w.typ {
			t.Errorf("span %d: status %v error.type %q, want %v %q", i, spans[i].Status(), typ, w.code, w.typ)
		}
	}
	if got := spans[1].Status().Description; got != "step: upload failed: rate_limited" {
		t.Errorf("description %q", got)
	}
}

// TestLogHook: lines logged with a context holding a span carry its ids,
// once, and so do the lines of a logger bound to the span, with the hook
// or without; others carry none.
func TestLogHook(t *testing.T) {
	t.Parallel()
	tracer, _ := recorder()
	var buf bytes.Buffer
	log := zerolog.New(&buf).Hook(tracing.LogHook{})
	ctx, span := tracer.Start(context.Background(), "task")
	bound := tracing.Logger(ctx, log)
	bound.Info().Msg("inside")
	log.Info().Ctx(ctx).Msg("inside too")
	log.Info().Msg("outside")
	log.Info().Ctx(context.Background()).Msg("no span")
	hookless := tracing.Logger(ctx, zerolog.New(&buf))
	hookless.Info().Msg("inside, no hook")
	unbound := tracing.Logger(context.Background(), zerolog.New(&buf))
	unbound.Info().Msg("bound to no span")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	ids := fmt.Sprintf(`"trace_id":"%s","span_id":"%s"`, span.SpanContext().TraceID(), span.SpanContext().SpanID())
	for i, want := range []bool{true, true, false, false, true, false} {
		if n := strings.Count(lines[i], "trace_id"); n > 1 {
			t.Errorf("line %q carries the trace id %d times", lines[i], n)
		}
		if got := strings.Contains(lines[i], ids); got != want {
			t.Errorf("line %q: carries the span %v, want %v", lines[i], got, want)
		}
		if !want && strings.Contains(lines[i], "trace_id") {
			t.Errorf("line %q carries a trace id", lines[i])
		}
	}
}

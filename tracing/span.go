package tracing

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans this package starts.
const ScopeName = "github.com/mediaflow/mediaflow"

// Tracer is the global provider's mediaflow tracer.
func Tracer() trace.Tracer { return otel.Tracer(ScopeName) }

// Start starts an internal span named name as a child of the span in ctx.
// name must be a template ("media:upload", "adopt post"), never hold an
// id: ids go in attributes.
func Start(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, trace.WithAttributes(attrs...))
}

// StartChild starts a span whose parent is the carrier's span: the next
// step of work the carrier was stored with. With an empty carrier it is
// a child of ctx's span, or a new trace.
func StartChild(ctx context.Context, c Carrier, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return Tracer().Start(ContextWithRemote(ctx, c), name, opts...)
}

// StartLinked starts a new trace's root span that links to the carrier's
// span instead of descending from it: for work that follows from the
// carrier's but would stretch its trace over hours (a poll, a sweep's
// kick), where a parent would mislead.
func StartLinked(ctx context.Context, c Carrier, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	return Tracer().Start(ctx, name, append(opts, LinkedTo(c)...)...)
}

// LinkedTo is the start options of StartLinked, for a tracer of one's
// own: a new trace's root, linked to each carrier's span that is valid.
func LinkedTo(cs ...Carrier) []trace.SpanStartOption {
	return []trace.SpanStartOption{trace.WithNewRoot(), trace.WithLinks(Links(cs...)...)}
}

// Links is a link to each carrier's span, leaving out carriers that name
// none.
func Links(cs ...Carrier) []trace.Link {
	var out []trace.Link
	for _, c := range cs {
		if sc := c.SpanContext(); sc.IsValid() {
			out = append(out, trace.Link{SpanContext: sc})
		}
	}
	return out
}

// ErrorTyper is an error that names its own class for error.type
// ("rate_limited", "409"): low-cardinality, never an id.
type ErrorTyper interface{ ErrorType() string }

// End ends span, marking it failed when err is not nil: status Error with
// err's text (errors in mediaflow never carry secrets) and error.type from
// the first ErrorTyper in err's chain, else "_OTHER" as the semantic
// conventions ask.
func End(span trace.Span, err error) {
	if err != nil {
		Fail(span, err)
	}
	span.End()
}

// Fail marks span failed by err without ending it.
func Fail(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		return
	}
	span.SetAttributes(semconv.ErrorTypeKey.String(ErrorType(err)))
	span.SetStatus(codes.Error, err.Error())
}

// ErrorType is error.type for err: what the first ErrorTyper in its chain
// says, else "_OTHER".
func ErrorType(err error) string {
	var et ErrorTyper
	if errors.As(err, &et) {
		if t := et.ErrorType(); t != "" {
			return t
		}
	}
	return semconv.ErrorTypeOther.Value.AsString()
}

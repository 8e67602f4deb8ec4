package tracing

import (
	"context"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Carrier is trace context written down: the W3C "traceparent" and, when
// there is one, "tracestate". It is what a record or a task payload stores
// so that work done later, in another process, joins the same trace. It
// holds no baggage: payloads outlive the request and must not carry what
// a caller put in it.
type Carrier map[string]string

// traceContext is the one format carriers are written in, whatever
// OTEL_PROPAGATORS says about HTTP headers: stored payloads must stay
// readable by every later version.
var traceContext = propagation.TraceContext{}

// Inject returns the carrier of the span in ctx, or nil when ctx holds no
// valid span (tracing off, or nothing started): a nil carrier stores as
// nothing.
func Inject(ctx context.Context) Carrier {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	c := Carrier{}
	traceContext.Inject(ctx, propagation.MapCarrier(c))
	return c
}

// SpanContext is the span a carrier names; invalid for an empty or
// unreadable one.
func (c Carrier) SpanContext() trace.SpanContext {
	if len(c) == 0 {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), propagation.MapCarrier(c)))
}

// TraceID is the carrier's trace id in hex, or "" when it holds none.
func (c Carrier) TraceID() string {
	if sc := c.SpanContext(); sc.IsValid() {
		return sc.TraceID().String()
	}
	return ""
}

// ContextWithRemote returns ctx with the carrier's span as the remote
// parent of the spans started from it; ctx unchanged when the carrier
// names none.
func ContextWithRemote(ctx context.Context, c Carrier) context.Context {
	if sc := c.SpanContext(); sc.IsValid() {
		return trace.ContextWithRemoteSpanContext(ctx, sc)
	}
	return ctx
}

package swonkie

import (
	"context"
	"errors"
	"net/url"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/tracing"
)

// ScopeName is the instrumentation scope of the client's spans.
const ScopeName = "github.com/mediaflow/mediaflow/swonkie"

// Span events and their attributes. A wait is in seconds.
const (
	// EventBudgetWait: the call waited for the call budget (or the
	// client's limiter) before it was sent; a pause a 429 asked for shows
	// here, on the calls it held.
	EventBudgetWait = "swonkie.budget_wait"
	// EventRateLimited: the answer was a 429; its Retry-After, when it
	// sent one, is the wait it asked for.
	EventRateLimited = "swonkie.rate_limited"

	AttrWaitSeconds       = attribute.Key("mediaflow.wait_seconds")
	AttrRetryAfterSeconds = attribute.Key("mediaflow.retry_after_seconds")
	AttrLimiter           = attribute.Key("mediaflow.limiter")
)

// minWaitEvent: a shorter wait is the budget's own bookkeeping (one Redis
// round trip), not a wait worth a line in the trace.
const minWaitEvent = time.Millisecond

// startCall starts the client span of one API call or upload, named by
// method and endpoint template ("GET /media/{id}", "PUT {uploadUrl}") so
// no id reaches a span name. u is the request's URL; url.full keeps its
// scheme, host and path only: an upload URL's query is a credential, and
// an API query may hold a caption.
func (c *Client) startCall(ctx context.Context, method, endpoint string, u *url.URL) (context.Context, trace.Span) {
	ctx, span := c.tracer.Start(ctx, method+" "+endpoint, trace.WithSpanKind(trace.SpanKindClient))
	if !span.IsRecording() {
		return ctx, span
	}
	attrs := []attribute.KeyValue{
		semconv.HTTPRequestMethodKey.String(method),
		semconv.URLTemplate(endpoint),
		semconv.ServerAddress(u.Hostname()),
		semconv.URLFull((&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()),
	}
	if p, err := strconv.Atoi(u.Port()); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	span.SetAttributes(attrs...)
	return ctx, span
}

// waited notes on span how long the call waited for limiter since start.
func (c *Client) waited(span trace.Span, limiter string, start time.Time) {
	if d := c.now().Sub(start); d >= minWaitEvent && span.IsRecording() {
		span.AddEvent(EventBudgetWait, trace.WithAttributes(AttrWaitSeconds.Float64(d.Seconds()), AttrLimiter.String(limiter)))
	}
}

// endCall ends the span of a call that got status (0: no answer) and err.
func endCall(span trace.Span, status int, err error) {
	if span.IsRecording() {
		if status > 0 {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
		}
		var e *Error
		if errors.As(err, &e) && e.StatusCode == 429 {
			var attrs []attribute.KeyValue
			if e.RetryAfter > 0 {
				attrs = append(attrs, AttrRetryAfterSeconds.Float64(e.RetryAfter.Seconds()))
			}
			span.AddEvent(EventRateLimited, trace.WithAttributes(attrs...))
		}
	}
	tracing.End(span, err)
}

// tracerOf is the client's tracer: from the provider it was given, else
// the global one, whose tracers follow an SDK installed after New.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(ScopeName)
}

// ErrorType is error.type on a span: the status code, or "timeout" or
// "transport" for a call that got no answer.
func (e *Error) ErrorType() string {
	switch {
	case e.StatusCode > 0:
		return strconv.Itoa(e.StatusCode)
	case errors.Is(e.Err, context.DeadlineExceeded), errors.Is(e.Err, errNoUploadAnswer):
		return "timeout"
	case errors.Is(e.Err, context.Canceled):
		return "cancelled"
	}
	return "transport"
}

// ErrorType is error.type on a span.
func (e *UnusableAnswerError) ErrorType() string { return "unusable_answer" }

// ErrorType is error.type on a span.
func (e *UploadURLError) ErrorType() string { return "upload_url_refused" }

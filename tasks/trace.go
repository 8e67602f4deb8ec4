package tasks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/tracing"
)

// Traces (docs/design.md, "Traces"). A pipeline is one trace: the span it
// was accepted in (Client.Publish, under the HTTP API's server span and
// the caller's traceparent) is stored with its record, and every task
// carries in its payload the span that made it needed, which its runs
// descend from. So the trace reads as the pipeline ran: each run of a
// task a span named by its type (retries side by side, steps run inline
// inside the run that made them needed), each Swonkie call a client span
// inside its run, each record write an event on the span that made it.
//
// Two things are links rather than parents, where a parent would mislead:
//   - a task handed on to run more than traceHorizon later (the look at a
//     post scheduled for tomorrow) starts a trace of its own, linked to
//     the span that scheduled it, and what it hands on stays in that
//     trace: a trace then spans minutes of work, never a day of waiting;
//   - work done for a pipeline from outside its chain of tasks (a sweep's
//     kick, a cancel, a redelivery) is a span in the pipeline's trace,
//     under the span it was accepted in, linked to whoever asked; for a
//     pipeline accepted more than traceHorizon ago, a new trace linked to
//     both.

// traceHorizon is how far ahead work may be scheduled and still be drawn
// in the trace of what scheduled it: the time a pipeline's own work takes
// (an upload window), not the time it may wait for a publishAt.
const traceHorizon = 15 * time.Minute

// Span names of the work that is not a task run (a task's span is named by
// its type). Names never hold an id: the pipeline's is an attribute.
const (
	spanPublish   = "pipeline publish"
	spanCancel    = "pipeline cancel"
	spanRedeliver = "pipeline redeliver"
	spanEdit      = "pipeline edit"
	spanReplay    = "pipeline replay"
	spanKick      = "sweep kick"
	spanGiveUp    = "sweep give up"
	spanAdoption  = "adoption search"
	spanWebhook   = "POST {webhook}"
)

// Span attributes and events of mediaflow's own.
const (
	attrPipeline  = attribute.Key("mediaflow.pipeline.id")
	attrItem      = attribute.Key("mediaflow.item")
	attrAttempt   = attribute.Key("mediaflow.task.attempt")
	attrInline    = attribute.Key("mediaflow.task.inline")
	attrVerdict   = attribute.Key("mediaflow.verdict")
	attrRetryable = attribute.Key("mediaflow.retryable")
	attrRetryIn   = attribute.Key("mediaflow.retry_in_seconds")
	attrState     = attribute.Key("mediaflow.state")
	attrStep      = attribute.Key("mediaflow.step")
	attrVersion   = attribute.Key("mediaflow.record.version")
	attrTraceID   = attribute.Key("mediaflow.trace_id")
	attrReason    = attribute.Key("mediaflow.reason")
	attrFound     = attribute.Key("mediaflow.posts.found")
	attrLooked    = attribute.Key("mediaflow.posts.looked_at")
	attrCreated   = attribute.Key("mediaflow.created")

	// eventWrite is a record write that took effect, on the span of the
	// run that made it: the state and step it left.
	eventWrite = "record written"
)

// tracerOf is mediaflow's tracer of tp, or of the global provider (which
// follows an SDK installed later) when tp is nil.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	return tp.Tracer(tracing.ScopeName)
}

// payloadKey carries a task's decoded payload from the tracing middleware
// to its handler, which then need not decode it again.
type payloadKey struct{}

// taskPayload is the payload of t, as the tracing middleware decoded it
// into ctx, else decoded now.
func taskPayload(ctx context.Context, t *asynq.Task) (Payload, error) {
	if pl, ok := ctx.Value(payloadKey{}).(Payload); ok {
		return pl, nil
	}
	return decodePayload(t)
}

// traced is the worker's outermost middleware: every run of a task (and
// every step run inline) inside a span, so the metrics middleware within
// it, and everything the run does, see the span.
func (p *pipeline) traced(next asynq.Handler) asynq.Handler {
	return asynq.HandlerFunc(func(ctx context.Context, t *asynq.Task) (err error) {
		pl, derr := decodePayload(t)
		if derr != nil {
			return next.ProcessTask(ctx, t) // the handler refuses it
		}
		ctx, span := p.startRun(ctx, t.Type(), pl)
		defer func() { endRun(span, err) }()
		return next.ProcessTask(context.WithValue(ctx, payloadKey{}, pl), t)
	})
}

// startRun starts the span of one run of a task: a child of the span
// its payload names as parent, a new trace linked to the span it names as
// link, and otherwise a child of ctx's span (a step run inline, in the run
// that made it needed) or a new trace.
func (p *pipeline) startRun(ctx context.Context, typ string, pl Payload) (context.Context, trace.Span) {
	_, inline := ctx.Value(inlineKey{}).(inlineRun)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
	if inline {
		opts[0] = trace.WithSpanKind(trace.SpanKindInternal)
	}
	switch {
	case len(pl.Trace) > 0:
		ctx = tracing.ContextWithRemote(ctx, pl.Trace)
		opts = append(opts, trace.WithLinks(tracing.Links(pl.Link)...))
	case len(pl.Link) > 0:
		opts = append(opts, tracing.LinkedTo(pl.Link)...)
	}
	ctx, span := p.tracer.Start(ctx, typ, opts...)
	if !span.IsRecording() {
		return ctx, span
	}
	retried := 0
	if !inline {
		retried, _ = asynq.GetRetryCount(ctx)
	}
	attrs := []attribute.KeyValue{attrInline.Bool(inline), attrAttempt.Int(retried + 1)}
	if pl.PipelineID != "" {
		attrs = append(attrs, attrPipeline.String(pl.PipelineID))
	}
	if row := rowOf(typ); isMediaStep(row.step) {
		attrs = append(attrs, attrItem.Int(pl.Item))
	}
	if q, ok := asynq.GetQueueName(ctx); ok && !inline {
		attrs = append(attrs, semconv.MessagingDestinationName(q))
	}
	span.SetAttributes(attrs...)
	return ctx, span
}

// endRun ends a run's span with its verdict (verdict.go): a poll that
// found nothing yet is no failure; any other error marks the span failed,
// with error.type, the verdict and whether it is retried.
func endRun(span trace.Span, err error) {
	if err == nil || !span.IsRecording() {
		span.End()
		return
	}
	outcome := taskOutcome(err)
	v := judge(err)
	attrs := []attribute.KeyValue{attrVerdict.String(outcome)}
	if v.delay > 0 && (v.kind == pollAgain || v.kind == waitRateLimit) {
		attrs = append(attrs, attrRetryIn.Float64(v.delay.Seconds()))
	}
	if outcome == metrics.OutcomeWaiting {
		span.SetAttributes(attrs...)
		span.End()
		return
	}
	retryable := outcome == metrics.OutcomeRetry || outcome == metrics.OutcomeRateLimited
	span.SetAttributes(append(attrs, attrRetryable.Bool(retryable))...)
	tracing.End(span, err)
}

// handOn is the trace context a task enqueued from ctx carries: ctx's
// span as its parent, or, for a task due more than traceHorizon after
// now, as a link.
func handOn(ctx context.Context, pl *Payload, at, now time.Time) {
	c := tracing.Inject(ctx)
	if c == nil || len(pl.Trace) > 0 || len(pl.Link) > 0 {
		return
	}
	if at.Sub(now) > traceHorizon {
		pl.Link = c
		return
	}
	pl.Trace = c
}

// startFor starts a span of work done for rec's pipeline from outside its
// chain of tasks (a sweep's kick, a cancel, a redelivery): under the span
// the pipeline was accepted in, linked to ctx's span (whoever asked); for
// a pipeline accepted more than traceHorizon before now, or one accepted
// untraced, the root of a new trace linked to both. The asking span gets
// an event naming the pipeline and the trace, to follow the other way.
func startFor(ctx context.Context, tracer trace.Tracer, rec *Record, now time.Time, name string) (context.Context, trace.Span) {
	asker := trace.SpanFromContext(ctx)
	opts := []trace.SpanStartOption{trace.WithAttributes(attrPipeline.String(rec.ID))}
	if sc := asker.SpanContext(); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	var span trace.Span
	if accepted := rec.traceContext(); len(accepted) > 0 && now.Sub(rec.CreatedAt) <= traceHorizon {
		ctx, span = tracer.Start(tracing.ContextWithRemote(ctx, accepted), name, opts...)
	} else {
		ctx, span = tracer.Start(ctx, name, append(opts, tracing.LinkedTo(accepted)...)...)
	}
	if asker.IsRecording() {
		asker.AddEvent(name, trace.WithAttributes(attrPipeline.String(rec.ID),
			attrTraceID.String(span.SpanContext().TraceID().String())))
	}
	return ctx, span
}

// noteWrite puts a record write that took effect on ctx's span, as an
// event: writes are few per run and say what the run achieved; the
// commands behind each are the store's business.
func noteWrite(ctx context.Context, ch *change) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	a := ch.after
	span.AddEvent(eventWrite, trace.WithAttributes(attrVersion.Int64(a.version),
		attrState.String(string(a.State)), attrStep.String(string(a.Step))))
}

// ErrorType is error.type on a span: mediaflow's own verdict that no
// retry can fix, unless the error it wraps names a class of its own.
func (e *PermanentError) ErrorType() string {
	if t := tracing.ErrorType(e.Err); t != semconv.ErrorTypeOther.Value.AsString() {
		return t
	}
	return "permanent"
}

// startDelivery starts the client span of one webhook delivery to u. Its
// url.full keeps the scheme, host and path: a receiver's query may hold a
// token.
func startDelivery(ctx context.Context, tracer trace.Tracer, u *url.URL) (context.Context, trace.Span) {
	if tracer == nil {
		tracer = tracerOf(nil)
	}
	ctx, span := tracer.Start(ctx, spanWebhook, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		attrs := []attribute.KeyValue{
			semconv.HTTPRequestMethodKey.String(http.MethodPost),
			semconv.ServerAddress(u.Hostname()),
			semconv.URLFull((&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()),
		}
		if port, err := strconv.Atoi(u.Port()); err == nil {
			attrs = append(attrs, semconv.ServerPort(port))
		}
		span.SetAttributes(attrs...)
	}
	return ctx, span
}

// endDelivery ends a delivery's span: failed unless the receiver took
// the event (2xx) or said it never will (410).
func endDelivery(span trace.Span, status int, err error) {
	if !span.IsRecording() {
		span.End()
		return
	}
	if status > 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(status))
	}
	switch {
	case err != nil:
		err = &deliveryError{err: err}
	case (status < 200 || status >= 300) && status != http.StatusGone:
		err = &deliveryError{status: status, err: fmt.Errorf("receiver answered %d", status)}
	}
	tracing.End(span, err)
}

// ErrorType is error.type on a span: the receiver's status, or
// "transport" when it gave none.
func (e *deliveryError) ErrorType() string {
	if e.status > 0 {
		return strconv.Itoa(e.status)
	}
	return "transport"
}

// endPublish ends Publish's span: the pipeline it answered and whether it
// made it. A refused request is the caller's error, not a failure of the
// span (as a 4xx is not a server span's).
func endPublish(span trace.Span, rec *Record, created bool, err error) {
	if span.IsRecording() {
		if rec != nil {
			span.SetAttributes(attrPipeline.String(rec.ID))
		}
		span.SetAttributes(attrCreated.Bool(created))
		var ve *ValidationError
		if errors.As(err, &ve) || errors.Is(err, ErrKeyReused) {
			span.SetAttributes(attrReason.String("refused"))
			err = nil
		}
	}
	tracing.End(span, err)
}

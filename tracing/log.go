package tracing

import (
	"context"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"
)

// LogHook adds trace_id and span_id to every line logged with a context
// that holds a valid span (zerolog's Event.Ctx, or a logger from Logger).
// Install it once on a program's root logger; with tracing off no span is
// valid and it adds nothing.
type LogHook struct{}

// Run implements zerolog.Hook.
func (LogHook) Run(e *zerolog.Event, _ zerolog.Level, _ string) {
	ctx := e.GetCtx()
	if ctx == nil {
		return
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		e.Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String())
	}
}

// Logger is log bound to ctx's span: every line it writes carries the
// span's trace_id and span_id, whether or not log has LogHook (they are
// fields of the logger, so the hook, finding no context, adds nothing
// twice). With no valid span in ctx it is log.
func Logger(ctx context.Context, log zerolog.Logger) zerolog.Logger {
	sc := trace.SpanContextFromContext(ctx)
	if !sc.IsValid() {
		return log
	}
	return log.With().Str("trace_id", sc.TraceID().String()).Str("span_id", sc.SpanID().String()).Logger()
}

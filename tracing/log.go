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

// Logger is log bound to ctx: its lines carry the trace and span of ctx
// through LogHook.
func Logger(ctx context.Context, log zerolog.Logger) zerolog.Logger {
	return log.With().Ctx(ctx).Logger()
}

package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/accesslog"
)

// ScopeName is the instrumentation scope of the API's server spans.
const ScopeName = "github.com/mediaflow/mediaflow/api"

// Observer receives every answered request by route template; a
// *metrics.Metrics is one.
type Observer interface {
	InitAPIRoute(route, method string)
	APIRequest(ctx context.Context, route, method string, status int, took time.Duration)
}

// observed serves every request inside a server span that continues the
// caller's W3C traceparent, and reports it to the Observer. The route is
// looked up in mux before serving, so the span is named by it from the
// start ("POST /v1/pipelines") and a path's ids never reach a name or a
// label. The request's context holds the span: what a handler stores or
// enqueues can carry the trace on (tracing.Inject).
func (h *Handler) observed(mux *http.ServeMux, next http.Handler, cfg Config) http.Handler {
	tp, prop, obs := cfg.TracerProvider, cfg.Propagator, cfg.Metrics
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if prop == nil {
		prop = otel.GetTextMapPropagator()
	}
	if obs != nil {
		for _, rt := range h.table() {
			obs.InitAPIRoute(rt.pattern, rt.method)
		}
	}
	tracer := tp.Tracer(ScopeName)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		_, pattern := mux.Handler(r)
		route := accesslog.RouteOf(pattern)
		ctx := prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		name := r.Method + " " + route
		if route == "unmatched" {
			name = r.Method
		}
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer))
		if span.IsRecording() {
			span.SetAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.HTTPRoute(route),
				semconv.URLPath(r.URL.Path), semconv.URLScheme(scheme(r)))
		}
		defer span.End()
		rec := &accesslog.Recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(ctx))
		status := rec.Status
		if status == 0 {
			status = http.StatusOK
		}
		if span.IsRecording() {
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				// Only 5xx fail a server span: a 4xx is the client's.
				span.SetAttributes(semconv.ErrorTypeKey.String(strconv.Itoa(status)))
				span.SetStatus(codes.Error, http.StatusText(status))
			}
		}
		if obs != nil {
			obs.APIRequest(ctx, route, r.Method, status, time.Since(start))
		}
	})
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// observe records v on o, with the trace id of ctx's span as an exemplar
// when that span is sampled: a slow bucket on the dashboard then links to
// a trace that is in the tracing backend. With tracing off no span is
// valid and it is a plain Observe.
func observe(ctx context.Context, o prometheus.Observer, v float64) {
	if ctx != nil {
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && sc.IsSampled() {
			if eo, ok := o.(prometheus.ExemplarObserver); ok {
				eo.ObserveWithExemplar(v, prometheus.Labels{"trace_id": sc.TraceID().String()})
				return
			}
		}
	}
	o.Observe(v)
}

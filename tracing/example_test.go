package tracing_test

import (
	"context"
	"encoding/json"
	"fmt"

	"go.opentelemetry.io/otel/propagation"

	"github.com/mediaflow/mediaflow/tracing"
)

// A carrier stored with work (a record, a task payload) lets the run that
// picks the work up later join the trace of the request that made it.
func ExampleCarrier() {
	// The caller's trace, as the API extracts it from a traceparent header.
	incoming := propagation.HeaderCarrier{}
	incoming.Set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	ctx := propagation.TraceContext{}.Extract(context.Background(), incoming)

	stored, _ := json.Marshal(tracing.Inject(ctx))
	fmt.Println(string(stored))

	var c tracing.Carrier
	_ = json.Unmarshal(stored, &c)
	fmt.Println("trace", c.TraceID())
	// Later, in a worker: a span of the same trace (a no-op one here, as no
	// SDK is installed).
	_, span := tracing.StartChild(context.Background(), c, "media:upload")
	defer tracing.End(span, nil)
	// Output:
	// {"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
	// trace 0af7651916cd43dd8448eb211c80319c
}

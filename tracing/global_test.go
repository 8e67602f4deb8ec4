package tracing_test

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"
)

// setGlobal installs tp as the global provider until restore is called;
// tests that use it do not run in parallel.
func setGlobal(tp trace.TracerProvider) (restore func()) {
	old := otel.GetTracerProvider()
	otel.SetTracerProvider(tp)
	return func() { otel.SetTracerProvider(old) }
}

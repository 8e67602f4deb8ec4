// Package tracing holds what mediaflow's code starts and carries spans
// with: Start, StartChild and StartLinked by name, End with the error's
// class, a Carrier of W3C trace context to store with work that runs
// later, and a zerolog hook that puts trace_id and span_id on lines logged
// inside a span. It imports the OpenTelemetry API only: with no SDK
// installed every span is a no-op, and a library user who brings their
// own SDK gets mediaflow's spans in it.
//
// Package tracingsdk builds the SDK from the standard OTEL_* environment;
// only programs' main packages import it.
package tracing

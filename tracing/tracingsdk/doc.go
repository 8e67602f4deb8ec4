// Package tracingsdk sets up the OpenTelemetry SDK for a mediaflow program
// from the standard OTEL_* environment and nothing else (see Setup): with
// none of the variables that choose an exporter set, tracing is off, no
// SDK is built, and every span the code starts is the API's no-op span.
// Spans go to an OTLP/HTTP collector (Jaeger, Tempo, the OpenTelemetry
// Collector) in batches; Shutdown flushes what is left.
//
// Only programs' main packages (and tests) import it; the packages that
// start spans use package tracing and the OpenTelemetry API.
package tracingsdk

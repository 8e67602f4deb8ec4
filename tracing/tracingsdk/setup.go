package tracingsdk

import (
	"context"
	"errors"
	"fmt"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// DefaultServiceName is service.name when OTEL_SERVICE_NAME (or
// service.name in OTEL_RESOURCE_ATTRIBUTES) does not say otherwise.
const DefaultServiceName = "mediaflow"

// Build says which build is running, for the resource every span carries.
type Build struct {
	// Version is service.version; Commit is vcs.ref.head.revision.
	Version, Commit string
	// Workspace is mediaflow.workspace: the Swonkie workspace as the
	// budget knows it (a hash of the API id, never the id), empty when
	// the program has none.
	Workspace string
}

// Tracing is the tracing of one process: the provider spans go to and the
// propagator HTTP headers are read and written with.
type Tracing struct {
	provider   trace.TracerProvider
	propagator propagation.TextMapPropagator
	sdk        *sdktrace.TracerProvider // nil when off
}

// Off is tracing turned off: no-op spans, nothing propagated.
func Off() *Tracing {
	return &Tracing{provider: noop.NewTracerProvider(), propagator: propagation.NewCompositeTextMapPropagator()}
}

// Setup builds the tracing OTEL_* variables ask for, read through getenv
// (nil: os.Getenv). Tracing is on when OTEL_TRACES_EXPORTER names an
// exporter or an OTLP endpoint is set (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT), unless OTEL_SDK_DISABLED is true
// or OTEL_TRACES_EXPORTER is none; otherwise Setup returns Off(). When on,
// spans are batched to an OTLP/HTTP (protobuf) exporter; the sampler is
// OTEL_TRACES_SAMPLER (default parentbased_always_on); the resource holds
// service.name, service.version, vcs.ref.head.revision,
// mediaflow.workspace and OTEL_RESOURCE_ATTRIBUTES. The exporter's other
// settings (OTEL_EXPORTER_OTLP_TIMEOUT, _COMPRESSION, _CERTIFICATE…) and
// the batch processor's (OTEL_BSP_*) are read from the process
// environment by the SDK itself.
//
// A setting Setup cannot honour (the grpc protocol, an unknown sampler or
// exporter) is an error naming the variable, so a program can refuse to
// start rather than run without the traces it was asked for.
func Setup(ctx context.Context, getenv func(string) string, b Build) (*Tracing, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := readEnv(getenv)
	if err != nil || !cfg.on {
		return Off(), err
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(cfg.endpoint), otlptracehttp.WithHeaders(cfg.headers))
	if err != nil {
		return Off(), fmt.Errorf("tracing: OTLP exporter for %s: %w", cfg.endpoint, err)
	}
	return newSDK(sdktrace.NewBatchSpanProcessor(exp), cfg, b)
}

// WithProcessor is Setup's tracing, always on, with spans handed to p (a
// test's in-memory recorder, or a batch processor over an exporter of
// the caller's) rather than to the exporter the environment names. The
// sampler, resource and propagators still come from getenv.
func WithProcessor(getenv func(string) string, b Build, p sdktrace.SpanProcessor) (*Tracing, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	cfg, err := readEnv(getenv)
	if err != nil {
		return Off(), err
	}
	return newSDK(p, cfg, b)
}

func newSDK(p sdktrace.SpanProcessor, cfg envConfig, b Build) (*Tracing, error) {
	// Not resource.Default: it reads the process environment, and getenv
	// is the one source of settings here.
	res, err := resource.New(context.Background(), resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithTelemetrySDK(), resource.WithAttributes(cfg.resourceAttrs(b)...))
	if err != nil {
		return Off(), fmt.Errorf("tracing: resource: %w", err)
	}
	sdk := sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(p),
		sdktrace.WithSampler(cfg.sampler),
		sdktrace.WithResource(res),
	)
	return &Tracing{provider: sdk, propagator: cfg.propagator, sdk: sdk}, nil
}

// Enabled reports whether spans are recorded and exported.
func (t *Tracing) Enabled() bool { return t.sdk != nil }

// TracerProvider is where spans go (a no-op provider when off).
func (t *Tracing) TracerProvider() trace.TracerProvider { return t.provider }

// Propagator reads and writes trace context in HTTP headers (W3C
// traceparent, tracestate and baggage by default; nothing when off).
func (t *Tracing) Propagator() propagation.TextMapPropagator { return t.propagator }

// SetGlobal makes t the process's otel.TracerProvider and
// otel.TextMapPropagator, which every package that is not handed a
// provider of its own uses. Only a program's main should call it.
func (t *Tracing) SetGlobal() {
	otel.SetTracerProvider(t.provider)
	otel.SetTextMapPropagator(t.propagator)
}

// Shutdown exports the spans still buffered and stops the exporter; ctx
// bounds the wait. It is a no-op when tracing is off.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	err := t.sdk.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("tracing: spans still buffered at shutdown were dropped: %w", err)
	}
	return err
}

// ForceFlush exports the spans buffered so far without stopping.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t.sdk == nil {
		return nil
	}
	return t.sdk.ForceFlush(ctx)
}

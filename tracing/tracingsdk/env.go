package tracingsdk

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// WorkspaceKey is the resource attribute naming the Swonkie workspace.
const WorkspaceKey = attribute.Key("mediaflow.workspace")

// envConfig is what the OTEL_* variables ask for.
type envConfig struct {
	on         bool
	endpoint   string
	headers    map[string]string
	sampler    sdktrace.Sampler
	propagator propagation.TextMapPropagator
	service    string
	attrs      []attribute.KeyValue
}

func readEnv(getenv func(string) string) (envConfig, error) {
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	cfg := envConfig{service: DefaultServiceName}
	var err error
	if cfg.sampler, err = sampler(get("OTEL_TRACES_SAMPLER"), get("OTEL_TRACES_SAMPLER_ARG")); err != nil {
		return cfg, err
	}
	if cfg.propagator, err = propagators(get("OTEL_PROPAGATORS")); err != nil {
		return cfg, err
	}
	if cfg.attrs, err = keyValues("OTEL_RESOURCE_ATTRIBUTES", get("OTEL_RESOURCE_ATTRIBUTES")); err != nil {
		return cfg, err
	}
	for i, kv := range cfg.attrs {
		if kv.Key == semconv.ServiceNameKey {
			cfg.service = kv.Value.AsString()
			cfg.attrs = append(cfg.attrs[:i:i], cfg.attrs[i+1:]...)
			break
		}
	}
	if s := get("OTEL_SERVICE_NAME"); s != "" {
		cfg.service = s
	}

	exporter := strings.ToLower(get("OTEL_TRACES_EXPORTER"))
	base, traces := get("OTEL_EXPORTER_OTLP_ENDPOINT"), get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	switch {
	case strings.EqualFold(get("OTEL_SDK_DISABLED"), "true"), exporter == "none":
		return cfg, nil
	case exporter == "" && base == "" && traces == "":
		return cfg, nil
	case exporter != "" && exporter != "otlp":
		return cfg, fmt.Errorf("tracing: OTEL_TRACES_EXPORTER %q: only otlp and none are supported", exporter)
	}
	protocol := get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	if protocol == "" {
		protocol = get("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if protocol != "" && protocol != "http/protobuf" {
		return cfg, fmt.Errorf("tracing: OTLP protocol %q: only http/protobuf is supported (the collector's port 4318)", protocol)
	}
	// The signal's own endpoint is used as given; the general one is a
	// base the signal's path is added to (the OTLP exporter spec).
	switch {
	case traces != "":
		cfg.endpoint = traces
	case base != "":
		cfg.endpoint = strings.TrimRight(base, "/") + "/v1/traces"
	default:
		cfg.endpoint = "http://localhost:4318/v1/traces"
	}
	if u, err := url.Parse(cfg.endpoint); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return cfg, fmt.Errorf("tracing: OTLP endpoint %q is not an http(s) URL", redactURL(cfg.endpoint))
	}
	headers := get("OTEL_EXPORTER_OTLP_TRACES_HEADERS")
	if headers == "" {
		headers = get("OTEL_EXPORTER_OTLP_HEADERS")
	}
	hs, err := keyValues("OTEL_EXPORTER_OTLP_HEADERS", headers)
	if err != nil {
		return cfg, err
	}
	cfg.headers = map[string]string{}
	for _, h := range hs {
		cfg.headers[string(h.Key)] = h.Value.AsString()
	}
	cfg.on = true
	return cfg, nil
}

// resourceAttrs are the resource's attributes: OTEL_RESOURCE_ATTRIBUTES
// first, so the build's own facts win over a stale setting.
func (c envConfig) resourceAttrs(b Build) []attribute.KeyValue {
	out := append([]attribute.KeyValue{}, c.attrs...)
	out = append(out, semconv.ServiceName(c.service))
	if b.Version != "" {
		out = append(out, semconv.ServiceVersion(b.Version))
	}
	if b.Commit != "" {
		out = append(out, semconv.VCSRefHeadRevision(b.Commit))
	}
	if b.Workspace != "" {
		out = append(out, WorkspaceKey.String(b.Workspace))
	}
	return out
}

// sampler is OTEL_TRACES_SAMPLER as the spec defines it; the SDK would
// ignore an unknown name, Setup refuses it.
func sampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := func() (float64, error) {
		if arg == "" {
			return 1, nil
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return 0, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER_ARG %q: want a ratio from 0 to 1", arg)
		}
		return r, nil
	}
	switch strings.ToLower(name) {
	case "", "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "traceidratio":
		r, err := ratio()
		return sdktrace.TraceIDRatioBased(r), err
	case "parentbased_traceidratio":
		r, err := ratio()
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(r)), err
	}
	return nil, fmt.Errorf("tracing: OTEL_TRACES_SAMPLER %q: want always_on, always_off, traceidratio or their parentbased_ forms", name)
}

// propagators is OTEL_PROPAGATORS: tracecontext and baggage by default.
func propagators(list string) (propagation.TextMapPropagator, error) {
	if list == "" {
		list = "tracecontext,baggage"
	}
	var ps []propagation.TextMapPropagator
	for _, name := range strings.Split(list, ",") {
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "tracecontext":
			ps = append(ps, propagation.TraceContext{})
		case "baggage":
			ps = append(ps, propagation.Baggage{})
		case "none", "":
		default:
			return nil, fmt.Errorf("tracing: OTEL_PROPAGATORS %q: only tracecontext, baggage and none are supported", name)
		}
	}
	return propagation.NewCompositeTextMapPropagator(ps...), nil
}

// keyValues reads the key1=value1,key2=value2 lists of
// OTEL_RESOURCE_ATTRIBUTES and OTEL_EXPORTER_OTLP_HEADERS, values
// percent-decoded. An error names the variable and the key, never the
// value: headers carry credentials.
func keyValues(name, list string) ([]attribute.KeyValue, error) {
	var out []attribute.KeyValue
	for _, pair := range strings.Split(list, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		k, v, ok := strings.Cut(pair, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, fmt.Errorf("tracing: %s: an entry without key=value", name)
		}
		dv, err := url.PathUnescape(strings.TrimSpace(v))
		if err != nil {
			return nil, fmt.Errorf("tracing: %s: the value of %q is not percent-encoded properly", name, k)
		}
		out = append(out, attribute.String(k, dv))
	}
	return out, nil
}

// redactURL keeps an endpoint's scheme and host for an error: its user
// info or query could hold a token.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparsable)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

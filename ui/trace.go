package ui

import (
	"errors"
	"net/url"
	"strings"
)

// traceIDPlaceholder is what TRACE_URL_TEMPLATE writes for the trace id.
const traceIDPlaceholder = "{traceId}"

// CheckTraceURL checks a TRACE_URL_TEMPLATE: empty (no links), or an
// absolute http(s) URL holding {traceId}, such as a Jaeger UI's
// http://jaeger:16686/trace/{traceId} or a Grafana Explore URL.
func CheckTraceURL(template string) error {
	if template == "" {
		return nil
	}
	if !strings.Contains(template, traceIDPlaceholder) {
		return errors.New("the template holds no " + traceIDPlaceholder + " to put the trace id in")
	}
	u, err := url.Parse(TraceURL(template, "0af7651916cd43dd8448eb211c80319c"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return errors.New("want an absolute http(s) URL with " + traceIDPlaceholder + " in it")
	}
	return nil
}

// TraceURL is the link to a trace: the template with its id, "" without
// a template or an id. A trace id is hex, so it needs no escaping.
func TraceURL(template, traceID string) string {
	if template == "" || traceID == "" {
		return ""
	}
	return strings.ReplaceAll(template, traceIDPlaceholder, traceID)
}

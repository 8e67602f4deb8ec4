package metrics

import (
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Status classes, the values of mediaflow_swonkie_requests_total's code
// label. A class rather than the exact status keeps the label set small;
// 429s have a counter of their own.
const (
	codeTransportError = "error"
	unknownEndpoint    = "unknown"
)

// initialCodes are the code values created at zero for every endpoint;
// 1xx is left out because RoundTrip never returns an informational status.
var initialCodes = []string{"2xx", "3xx", "4xx", "5xx", codeTransportError}

// swonkieDurationBuckets reach minutes because an upload's round trip lasts
// as long as the file takes to stream.
var swonkieDurationBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300}

// retryAfterBuckets cover what a rate limiter plausibly asks for, a second
// to an hour. Retry-After is whole seconds, so each bound sits half a
// second off a whole number: the answers of n seconds fill a bucket centred
// on n, and histogram_quantile's interpolation inside it lands on n (a run
// of 1 s answers reads p50 1 s, where bounds at 1, 2, 5… read 0.5 s). One
// bucket per second up to 5 s, where limiters mostly answer; coarser above.
var retryAfterBuckets = []float64{0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 10.5, 15.5, 30.5, 60.5, 120.5, 300.5, 900.5, 3600.5}

type swonkieMetrics struct {
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	rateLimited *prometheus.CounterVec
	retryAfter  prometheus.Histogram
	sentBytes   *prometheus.CounterVec

	seen sync.Map // "workspace endpoint method" → struct{}: series already created
}

func newSwonkieMetrics(reg prometheus.Registerer) *swonkieMetrics {
	s := &swonkieMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "swonkie_requests_total",
			Help:      "Requests to the Swonkie API by workspace, endpoint template, method and status class (2xx…5xx, or error when no response came back).",
		}, []string{"workspace", "endpoint", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "swonkie_request_duration_seconds",
			Help:      "Time from sending a Swonkie API request to having its response headers (or an error), by endpoint template and method.",
			Buckets:   swonkieDurationBuckets,
		}, []string{"endpoint", "method"}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "swonkie_rate_limited_total",
			Help:      "Swonkie API responses with status 429, by endpoint template.",
		}, []string{"endpoint"}),
		retryAfter: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "swonkie_retry_after_seconds",
			Help:      "The wait that 429 responses asked for in Retry-After.",
			Buckets:   retryAfterBuckets,
		}),
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "swonkie_sent_bytes_total",
			Help:      "Request body bytes handed to the network for the Swonkie API, by endpoint template; uploads are endpoint {uploadUrl}.",
		}, []string{"endpoint"}),
	}
	reg.MustRegister(s.requests, s.duration, s.rateLimited, s.retryAfter, s.sentBytes)
	return s
}

// initSeries creates the zero series of an endpoint and method the first
// time they are used, so "errors per second" and "429s per second" show 0
// rather than no data while all is well.
func (s *swonkieMetrics) initSeries(workspace, endpoint, method string) {
	if _, loaded := s.seen.LoadOrStore(workspace+" "+endpoint+" "+method, struct{}{}); loaded {
		return
	}
	for _, c := range initialCodes {
		s.requests.WithLabelValues(workspace, endpoint, method, c)
	}
	s.duration.WithLabelValues(endpoint, method)
	s.rateLimited.WithLabelValues(endpoint)
	s.sentBytes.WithLabelValues(endpoint)
}

// InitEndpoint creates the zero series of one Swonkie endpoint template
// and method ("POST", "/media"), as its first request would. Called for
// every endpoint the worker uses, it puts the Swonkie panels' series in a
// worker's first scrape, before any request: 0 rather than "No data".
func (m *Metrics) InitEndpoint(method, endpoint string) {
	if endpoint == "" {
		endpoint = unknownEndpoint
	}
	if method == "" {
		method = http.MethodGet
	}
	for _, ws := range m.ws.names() {
		m.swonkie.initSeries(ws, endpoint, method)
	}
}

// InstrumentTransport wraps next so every request through it is counted,
// timed and, for bodies, measured.
//
// endpoint must map a request to its endpoint template ("/media/{id}",
// "{uploadUrl}"), never to anything containing an id or a URL: its result is
// a label value. An empty result is counted as "unknown". retryAfter parses
// a Retry-After header; it is injected so the Swonkie client's one parser
// serves both the client's waits and this histogram.
//
// Its requests are counted under the workspace DefaultWorkspace;
// InstrumentWorkspace names another.
func (m *Metrics) InstrumentTransport(next http.RoundTripper, endpoint func(*http.Request) string, retryAfter func(http.Header) (time.Duration, bool)) http.RoundTripper {
	return m.InstrumentWorkspace(DefaultWorkspace)(next, endpoint, retryAfter)
}

// InstrumentWorkspace is InstrumentTransport for the client of workspace
// (a name InitWorkspaces was given; another is counted as "other").
func (m *Metrics) InstrumentWorkspace(workspace string) func(http.RoundTripper, func(*http.Request) string, func(http.Header) (time.Duration, bool)) http.RoundTripper {
	return func(next http.RoundTripper, endpoint func(*http.Request) string, retryAfter func(http.Header) (time.Duration, bool)) http.RoundTripper {
		if next == nil {
			next = http.DefaultTransport
		}
		return &instrumentedTransport{next: next, workspace: workspace, ws: m.ws, endpoint: endpoint, retryAfter: retryAfter, m: m.swonkie}
	}
}

type instrumentedTransport struct {
	next http.RoundTripper
	// workspace is labelled as ws says when a request is made: the
	// client may be made before InitWorkspaces names it.
	workspace  string
	ws         *workspaceMetrics
	endpoint   func(*http.Request) string
	retryAfter func(http.Header) (time.Duration, bool)
	m          *swonkieMetrics
}

func (t *instrumentedTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	endpoint := unknownEndpoint
	if t.endpoint != nil {
		if e := t.endpoint(req); e != "" {
			endpoint = e
		}
	}
	method := req.Method
	if method == "" {
		method = http.MethodGet
	}
	ws := t.ws.label(t.workspace)
	t.m.initSeries(ws, endpoint, method)

	// Count the body as the next transport reads it: that is what went to
	// the network, including a partial upload cut off by an error, and
	// nothing for a request that failed before its body was read.
	// A RoundTripper must not modify the request it is given, hence the
	// shallow copy.
	if req.Body != nil && req.Body != http.NoBody {
		counter := t.m.sentBytes.WithLabelValues(endpoint)
		r := *req
		r.Body = &countingBody{ReadCloser: req.Body, counter: counter}
		if req.GetBody != nil {
			// http.Transport replays a body through GetBody when it retries
			// on a fresh connection; the replay is sent too.
			getBody := req.GetBody
			r.GetBody = func() (io.ReadCloser, error) {
				b, err := getBody()
				if err != nil || b == nil || b == http.NoBody {
					return b, err
				}
				return &countingBody{ReadCloser: b, counter: counter}, nil
			}
		}
		req = &r
	}

	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	observe(req.Context(), t.m.duration.WithLabelValues(endpoint, method), time.Since(start).Seconds())
	if err != nil {
		t.m.requests.WithLabelValues(ws, endpoint, method, codeTransportError).Inc()
		return resp, err
	}
	t.m.requests.WithLabelValues(ws, endpoint, method, statusClass(resp.StatusCode)).Inc()
	if resp.StatusCode == http.StatusTooManyRequests {
		t.m.rateLimited.WithLabelValues(endpoint).Inc()
		if t.retryAfter != nil {
			if d, ok := t.retryAfter(resp.Header); ok {
				t.m.retryAfter.Observe(d.Seconds())
			}
		}
	}
	return resp, nil
}

func statusClass(code int) string {
	if code >= 100 && code < 600 {
		return string(rune('0'+code/100)) + "xx"
	}
	// A status outside 1xx–5xx is a broken server; keep it out of the label
	// set but still visible.
	return codeTransportError
}

type countingBody struct {
	io.ReadCloser
	counter prometheus.Counter
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.counter.Add(float64(n))
	}
	return n, err
}

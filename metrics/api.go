package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// apiDurationBuckets: most answers take a Redis round trip or two
// (milliseconds); a request body may take up to the API's 30 s to arrive.
var apiDurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// apiMethods are the method label's values; any other method a client
// sends is counted as "other", so a stranger cannot grow the label set.
var apiMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true,
	http.MethodPatch: true, http.MethodDelete: true, http.MethodOptions: true,
}

type apiMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newAPIMetrics(reg prometheus.Registerer) *apiMetrics {
	a := &apiMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "api_requests_total",
			Help:      "Requests the HTTP enqueue API answered, by route template, method and status class (2xx…5xx).",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "api_request_duration_seconds",
			Help:      "Time the HTTP enqueue API took to answer a request, from its headers to the end of the answer, by route template and method.",
			Buckets:   apiDurationBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(a.requests, a.duration)
	return a
}

func apiMethod(m string) string {
	if apiMethods[m] {
		return m
	}
	return "other"
}

// InitAPIRoute creates the zero series of one API route template and
// method, so the API panels show 0 rather than "No data" before the first
// request.
func (m *Metrics) InitAPIRoute(route, method string) {
	method = apiMethod(method)
	for _, c := range []string{"2xx", "4xx", "5xx"} {
		m.api.requests.WithLabelValues(route, method, c)
	}
	m.api.duration.WithLabelValues(route, method)
}

// APIRequest records one answered API request. route must be a route
// template from a fixed set ("/v1/pipelines/{id}", or "unmatched"), never
// a path; status is the answer's. ctx's span, when sampled, becomes the
// latency's exemplar.
func (m *Metrics) APIRequest(ctx context.Context, route, method string, status int, took time.Duration) {
	method = apiMethod(method)
	m.api.requests.WithLabelValues(route, method, statusClass(status)).Inc()
	observe(ctx, m.api.duration.WithLabelValues(route, method), took.Seconds())
}

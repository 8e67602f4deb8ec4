package tasks

import (
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
)

// NewAPIClient builds the Swonkie client a worker uses: connections sized
// for its concurrency (net/http keeps only two idle ones per host by
// default, which would make every busy worker reconnect), and, when m is
// set, every request instrumented by endpoint template.
func NewAPIClient(cfg swonkie.Config, m *metrics.Metrics, concurrency int) (*swonkie.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, 2*concurrency)
	t.MaxIdleConnsPerHost = max(16, 2*concurrency)
	t.IdleConnTimeout = 90 * time.Second
	var rt http.RoundTripper = t
	if m != nil {
		rt = m.InstrumentTransport(t, swonkie.Endpoint, swonkie.RetryAfterHeader)
	}
	cfg.HTTPClient = &http.Client{Transport: rt}
	return swonkie.New(cfg)
}

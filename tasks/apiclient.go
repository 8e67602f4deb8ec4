package tasks

import (
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
)

// NewAPIClient builds the Swonkie client a worker uses: connections sized
// for its concurrency (net/http keeps only two idle ones per host by
// default, which would make every busy worker reconnect), no redirects
// followed (they would carry the API key to wherever they point), and,
// when m is set, every request instrumented by endpoint template. Pass
// cfg.Budget (NewFleetBudget) to pace the calls fleet-wide.
func NewAPIClient(cfg swonkie.Config, m *metrics.Metrics, concurrency int) (*swonkie.Client, error) {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = max(100, 2*concurrency)
	t.MaxIdleConnsPerHost = max(16, 2*concurrency)
	t.IdleConnTimeout = 90 * time.Second
	var rt http.RoundTripper = t
	if m != nil {
		rt = m.InstrumentTransport(t, swonkie.Endpoint, swonkie.RetryAfterHeader)
	}
	cfg.HTTPClient = &http.Client{
		Transport: rt,
		// swonkie.New refuses redirects on its own copy too; saying so
		// here keeps this client safe should it be used on its own.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return swonkie.New(cfg)
}

package metrics_test

import (
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/swonkie"

	"github.com/mediaflow/mediaflow/metrics"
)

// fakeSwonkie answers like the API would for the paths the tests use; the
// upload path reads the whole body, as a storage endpoint does.
func fakeSwonkie(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		switch {
		case r.URL.Path == "/v2/media" && r.Method == http.MethodPost:
			w.WriteHeader(http.StatusCreated)
		case strings.HasPrefix(r.URL.Path, "/v2/media/"):
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == "/v2/posts":
			w.WriteHeader(http.StatusBadGateway)
		case r.URL.Path == "/v2/profiles":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/v2/labels":
			// A 429 without a usable Retry-After.
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/v2/old":
			w.Header().Set("Location", "/v2/media")
			w.WriteHeader(http.StatusPermanentRedirect)
		case strings.HasPrefix(r.URL.Path, "/upload/"):
			w.WriteHeader(http.StatusOK)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// endpointOf is what the swonkie client will pass: templates only.
func endpointOf(r *http.Request) string {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/upload/"):
		return "{uploadUrl}"
	case strings.HasPrefix(p, "/v2/media/"):
		return "/media/{id}"
	case strings.HasPrefix(p, "/v2/"):
		return strings.TrimPrefix(p, "/v2")
	}
	return ""
}

func parseRetryAfter(h http.Header) (time.Duration, bool) {
	n, err := strconv.Atoi(h.Get("Retry-After"))
	if err != nil || n < 0 {
		return 0, false
	}
	return time.Duration(n) * time.Second, true
}

func TestInstrumentTransport(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		method     string
		path       string // appended to the fake server's URL
		refused    bool   // send to an address nothing listens on instead
		body       string
		endpoint   string
		code       string
		limited    float64
		retryAfter []float64 // observations in mediaflow_swonkie_retry_after_seconds
		sent       float64
	}{
		{name: "2xx", method: "POST", path: "/v2/media", body: `{"name":"a.jpg"}`, endpoint: "/media", code: "2xx", sent: 16},
		{name: "id folded into template", method: "PATCH", path: "/v2/media/med_8f3a91c2", body: `{}`, endpoint: "/media/{id}", code: "2xx", sent: 2},
		{name: "upload counts every byte", method: "PUT", path: "/upload/med_8f3a91c2?signature=s3cr3t", body: strings.Repeat("x", 1<<20), endpoint: "{uploadUrl}", code: "2xx", sent: 1 << 20},
		{name: "3xx", method: "GET", path: "/v2/old", endpoint: "/old", code: "3xx"},
		{name: "4xx", method: "GET", path: "/v2/nothing-here", endpoint: "/nothing-here", code: "4xx"},
		{name: "5xx", method: "POST", path: "/v2/posts", body: `{"caption":"hi"}`, endpoint: "/posts", code: "5xx", sent: 16},
		{name: "429 with Retry-After", method: "GET", path: "/v2/profiles", endpoint: "/profiles", code: "4xx", limited: 1, retryAfter: []float64{7}},
		{name: "429 without Retry-After", method: "GET", path: "/v2/labels", endpoint: "/labels", code: "4xx", limited: 1},
		{name: "transport error sends no bytes", method: "PUT", path: "/upload/med_8f3a91c2", refused: true, body: strings.Repeat("x", 4096), endpoint: "{uploadUrl}", code: "error"},
		{name: "empty endpoint", method: "GET", path: "/elsewhere", endpoint: "unknown", code: "4xx"},
	}
	srv := fakeSwonkie(t)
	refused := "http://" + freeport.Refusing(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{})
			client := &http.Client{
				Transport: m.InstrumentTransport(&http.Transport{}, endpointOf, parseRetryAfter),
				// Count the 3xx itself, not where it leads.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			}
			base := srv.URL
			if tc.refused {
				base = refused
			}
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, err := http.NewRequest(tc.method, base+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if tc.refused {
				if err == nil {
					t.Fatal("request to a refused address succeeded")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}

			for _, code := range []string{"2xx", "3xx", "4xx", "5xx", "error"} {
				want := 0.0
				if code == tc.code {
					want = 1
				}
				if got := value(t, m, "mediaflow_swonkie_requests_total", "endpoint", tc.endpoint, "method", tc.method, "code", code); got != want {
					t.Errorf("requests_total{code=%q} = %v, want %v", code, got, want)
				}
				if !hasSeries(t, m, "mediaflow_swonkie_requests_total", "endpoint", tc.endpoint, "method", tc.method, "code", code) {
					t.Errorf("no zero series for code %q", code)
				}
			}
			if got := histogramCount(t, m, "mediaflow_swonkie_request_duration_seconds", "endpoint", tc.endpoint, "method", tc.method); got != 1 {
				t.Errorf("request_duration_seconds count = %d, want 1", got)
			}
			if got := value(t, m, "mediaflow_swonkie_rate_limited_total", "endpoint", tc.endpoint); got != tc.limited {
				t.Errorf("rate_limited_total = %v, want %v", got, tc.limited)
			}
			if got := histogramCount(t, m, "mediaflow_swonkie_retry_after_seconds"); got != uint64(len(tc.retryAfter)) {
				t.Errorf("retry_after_seconds count = %d, want %d", got, len(tc.retryAfter))
			}
			var sum float64
			for _, v := range tc.retryAfter {
				sum += v
			}
			if got := histogramSum(t, m, "mediaflow_swonkie_retry_after_seconds"); got != sum {
				t.Errorf("retry_after_seconds sum = %v, want %v", got, sum)
			}
			if got := value(t, m, "mediaflow_swonkie_sent_bytes_total", "endpoint", tc.endpoint); got != tc.sent {
				t.Errorf("sent_bytes_total = %v, want %v", got, tc.sent)
			}
			assertNoLeaks(t, m, "med_8f3a91c2", "s3cr3t", "127.0.0.1", "/v2/", "http")
		})
	}
}

// assertNoLeaks fails if any label value of any series contains one of
// the given strings.
func assertNoLeaks(t *testing.T, m *metrics.Metrics, forbidden ...string) {
	t.Helper()
	for _, f := range metricstest.Gather(t, m.Registry()) {
		for _, metric := range f.GetMetric() {
			for _, lp := range metric.GetLabel() {
				for _, s := range forbidden {
					if strings.Contains(lp.GetValue(), s) {
						t.Errorf("%s{%s=%q} leaks %q", f.GetName(), lp.GetName(), lp.GetValue(), s)
					}
				}
			}
		}
	}
}

// A body the next transport never reads was never sent.
func TestInstrumentTransportCountsOnlyBytesRead(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	failing := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		buf := make([]byte, 100)
		n, _ := io.ReadFull(r.Body, buf)
		return nil, errors.New("connection reset after " + strconv.Itoa(n) + " bytes")
	})
	rt := m.InstrumentTransport(failing, func(*http.Request) string { return "{uploadUrl}" }, nil)
	req, _ := http.NewRequest(http.MethodPut, "http://storage.invalid/x", strings.NewReader(strings.Repeat("y", 1000)))
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("want the transport's error")
	}
	if got := value(t, m, "mediaflow_swonkie_sent_bytes_total", "endpoint", "{uploadUrl}"); got != 100 {
		t.Errorf("sent_bytes_total = %v, want the 100 bytes read before the error", got)
	}
	if got := value(t, m, "mediaflow_swonkie_requests_total", "endpoint", "{uploadUrl}", "method", "PUT", "code", "error"); got != 1 {
		t.Errorf("requests_total{code=error} = %v, want 1", got)
	}
}

// The request the caller passed must come back unmodified: a RoundTripper
// that swapped its Body would break callers that retry with it.
func TestInstrumentTransportLeavesRequestAlone(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	rt := m.InstrumentTransport(roundTripFunc(func(r *http.Request) (*http.Response, error) {
		_, _ = io.Copy(io.Discard, r.Body)
		return &http.Response{StatusCode: http.StatusNoContent, Body: http.NoBody, Request: r}, nil
	}), func(*http.Request) string { return "/posts/{id}" }, nil)
	body := io.NopCloser(strings.NewReader("{}"))
	req, _ := http.NewRequest(http.MethodPut, "http://api.invalid/v2/posts/1", body)
	if _, err := rt.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if req.Body != body {
		t.Error("RoundTrip replaced the caller's request body")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// quantile is histogram_quantile as Prometheus computes it: linear
// interpolation inside the bucket the rank falls in.
func quantile(q float64, h *dto.Histogram) float64 {
	rank := q * float64(h.GetSampleCount())
	lower, below := 0.0, 0.0
	for _, b := range h.GetBucket() {
		if n := float64(b.GetCumulativeCount()); n >= rank {
			return lower + (b.GetUpperBound()-lower)*(rank-below)/(n-below)
		}
		lower, below = b.GetUpperBound(), float64(b.GetCumulativeCount())
	}
	return math.Inf(1)
}

// Retry-After is whole seconds, and the buckets are laid so the median of
// n-second answers reads n seconds, for the values limiters send most.
func TestRetryAfterBucketsResolveWholeSeconds(t *testing.T) {
	t.Parallel()
	for _, secs := range []int{1, 2, 3, 4, 5} {
		m := metrics.New(metrics.Options{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			w.WriteHeader(http.StatusTooManyRequests)
		}))
		client := &http.Client{Transport: m.InstrumentTransport(&http.Transport{}, endpointOf, parseRetryAfter)}
		for range 10 {
			resp, err := client.Get(srv.URL + "/v2/media")
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
		}
		srv.Close()
		h := series(t, m, "mediaflow_swonkie_retry_after_seconds").GetHistogram()
		if got := quantile(0.5, h); math.Abs(got-float64(secs)) > 1e-9 {
			t.Errorf("p50 of ten %ds Retry-After answers = %v, want %d", secs, got, secs)
		}
	}
}

func TestInitEndpoint(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.InitEndpoint("PUT", "{uploadUrl}")
	for _, c := range [][]string{
		{"mediaflow_swonkie_requests_total", "endpoint", "{uploadUrl}", "method", "PUT", "code", "2xx"},
		{"mediaflow_swonkie_requests_total", "endpoint", "{uploadUrl}", "method", "PUT", "code", "error"},
		{"mediaflow_swonkie_rate_limited_total", "endpoint", "{uploadUrl}"},
		{"mediaflow_swonkie_sent_bytes_total", "endpoint", "{uploadUrl}"},
		{"mediaflow_swonkie_request_duration_seconds", "endpoint", "{uploadUrl}", "method", "PUT"},
	} {
		if !hasSeries(t, m, c[0], c[1:]...) {
			t.Errorf("InitEndpoint did not create %s%v", c[0], c[1:])
		}
	}
}

// TestInstrumentedClientRefusesRedirects: with the metrics transport in
// place, the key still never reaches a redirect target.
func TestInstrumentedClientRefusesRedirects(t *testing.T) {
	t.Parallel()
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { elsewhere.Add(1) }))
	t.Cleanup(target.Close)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+r.URL.Path, http.StatusMovedPermanently)
	}))
	t.Cleanup(api.Close)
	c, err := swonkie.New(swonkie.Config{BaseURL: api.URL + "/v2", APIID: "app-fleet", APIKey: "key-fleet",
		MaxConns: 2, Instrument: metrics.New(metrics.Options{}).InstrumentTransport})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateMedia(context.Background(), swonkie.CreateMediaRequest{Name: "a.png"})
	if err == nil || !strings.Contains(err.Error(), "POST /media") || !strings.Contains(err.Error(), "refused") ||
		strings.Contains(err.Error(), "key-fleet") || !swonkie.IsPermanent(err) {
		t.Fatalf("redirected create: %v", err)
	}
	if elsewhere.Load() != 0 {
		t.Fatal("the redirect target got a request")
	}
}

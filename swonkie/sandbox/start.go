package sandbox

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Running is a sandbox served on a local port for one test.
type Running struct {
	Server *Server
	// BaseURL is the API root, ending in /v2: what swonkie.Config.BaseURL
	// takes.
	BaseURL string
	// URL is the server root, for /_sandbox and raw requests.
	URL string
	// Clock is the sandbox clock when it is an *OffsetClock (always, unless
	// Options.Clock named another kind).
	Clock *OffsetClock
	HTTP  *httptest.Server
}

// Start serves a new sandbox on httptest for the test and closes it at the
// test's cleanup. An Options without a Clock gets a fresh OffsetClock.
func Start(tb testing.TB, opts Options) *Running {
	tb.Helper()
	if opts.Clock == nil {
		opts.Clock = &OffsetClock{}
	}
	s, err := New(opts)
	if err != nil {
		tb.Fatalf("start sandbox: %v", err)
	}
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	clock, _ := opts.Clock.(*OffsetClock)
	return &Running{Server: s, BaseURL: strings.TrimSuffix(ts.URL, "/") + "/v2", URL: ts.URL, Clock: clock, HTTP: ts}
}

// Advance moves the sandbox clock forward, failing the test when it
// cannot be moved.
func (r *Running) Advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	if err := r.Server.Advance(d); err != nil {
		tb.Fatal(err)
	}
}

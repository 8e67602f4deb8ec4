package swonkie_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// throttleBudget records what the client tells the budget of 429s.
type throttleBudget struct {
	mu   sync.Mutex
	told map[string]time.Duration
}

func (b *throttleBudget) Wait(context.Context, string) error { return nil }

func (b *throttleBudget) Throttled(endpoint string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.told[endpoint] = d
}

// A 429 that does not say how long to wait (docs/swonkie-api.md: the API
// documents no Retry-After) still slows the fleet: the budget is told, so
// that the other workers stop sending to the endpoint for a while, instead
// of every one of them going on at the full rate until Swonkie locks the
// key. The interposer stands in for such an answer; the sandbox always
// sends Retry-After.
func TestA429WithoutRetryAfterStillThrottlesTheBudget(t *testing.T) {
	t.Parallel()
	for _, header := range []string{"", "soon", "0"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if header != "" {
				w.Header().Set("Retry-After", header)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusTooManyRequests)
			_, _ = w.Write([]byte(`{"message":"Too Many Requests"}`))
		}))
		t.Cleanup(srv.Close)
		budget := &throttleBudget{told: map[string]time.Duration{}}
		c, err := swonkie.New(swonkie.Config{BaseURL: srv.URL + "/v2", APIID: "id", APIKey: "key", Budget: budget})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.ListLabels(context.Background()); !swonkie.IsRateLimited(err) {
			t.Fatalf("Retry-After %q: want a 429, got %v", header, err)
		}
		budget.mu.Lock()
		d, told := budget.told["GET /labels"]
		budget.mu.Unlock()
		if !told || d < time.Second {
			t.Errorf("Retry-After %q: the budget was told %v (told: %v); want a pause of at least a second", header, d, told)
		}
	}
}

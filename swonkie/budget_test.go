package swonkie_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// recordingBudget remembers what the client asked of it.
type recordingBudget struct {
	mu        sync.Mutex
	waits     []string
	throttled map[string]time.Duration
	refuse    error
}

func (b *recordingBudget) Wait(_ context.Context, endpoint string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.waits = append(b.waits, endpoint)
	return b.refuse
}

func (b *recordingBudget) Throttled(endpoint string, d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.throttled[endpoint] = d
}

// TestBudgetIsAskedForAPICallsOnly: every API call waits for the budget,
// uploads do not, and only a 429 teaches it anything: for as long as it
// says, or DefaultThrottle when it does not say.
func TestBudgetIsAskedForAPICallsOnly(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/profiles":
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
		case r.URL.Path == "/v2/labels":
			w.WriteHeader(http.StatusTooManyRequests) // no Retry-After
		case strings.HasPrefix(r.URL.Path, "/v2/media/"):
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusServiceUnavailable)
		case r.URL.Path == "/blob":
			w.WriteHeader(http.StatusCreated)
		}
	}))
	t.Cleanup(ts.Close)
	b := &recordingBudget{throttled: map[string]time.Duration{}}
	c := newClient(t, ts.URL+"/v2", func(cfg *swonkie.Config) { cfg.Budget = b })
	ctx := context.Background()
	if _, err := c.ListProfiles(ctx); !swonkie.IsRateLimited(err) {
		t.Fatalf("profiles: %v", err)
	}
	if _, err := c.ListLabels(ctx); !swonkie.IsRateLimited(err) {
		t.Fatalf("labels: %v", err)
	}
	if _, err := c.GetMedia(ctx, "m"); swonkie.StatusCode(err) != 503 {
		t.Fatalf("media: %v", err)
	}
	if err := c.UploadMedia(ctx, ts.URL+"/blob", strings.NewReader("abc"), 3, ""); err != nil {
		t.Fatalf("upload: %v", err)
	}
	want := []string{"GET /profiles", "GET /labels", "GET /media/{id}"}
	if strings.Join(b.waits, ",") != strings.Join(want, ",") {
		t.Fatalf("budget waits %q, want %q", b.waits, want)
	}
	if len(b.throttled) != 2 || b.throttled["GET /profiles"] != 2*time.Second || b.throttled["GET /labels"] != swonkie.DefaultThrottle {
		t.Fatalf("throttled %v, want GET /profiles for 2s and GET /labels for %v", b.throttled, swonkie.DefaultThrottle)
	}

	// A budget that cannot be had stops the call before it is sent.
	b.refuse = context.DeadlineExceeded
	_, err := c.ListProfiles(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "GET /profiles") || !strings.Contains(err.Error(), "budget") {
		t.Fatalf("refused budget: %v", err)
	}
}

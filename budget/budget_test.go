package budget_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/budget"
	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
)

// callLog is a Swonkie stand-in that records when each call arrived.
type callLog struct {
	mu    sync.Mutex
	at    map[string][]time.Time // by path
	reply func(w http.ResponseWriter, r *http.Request) bool
}

func newCallLog(t *testing.T, reply func(w http.ResponseWriter, r *http.Request) bool) (*callLog, string) {
	t.Helper()
	l := &callLog{at: map[string][]time.Time{}, reply: reply}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l.mu.Lock()
		l.at[r.URL.Path] = append(l.at[r.URL.Path], time.Now())
		l.mu.Unlock()
		if l.reply != nil && l.reply(w, r) {
			return
		}
		_, _ = w.Write([]byte(`[]`))
	}))
	t.Cleanup(ts.Close)
	return l, ts.URL + "/v2"
}

func (l *callLog) times(path string) []time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.at["/v2"+path])
}

// busiestSecond is the most calls any one-second window holds.
func busiestSecond(ts []time.Time) int {
	slices.SortFunc(ts, func(a, b time.Time) int { return a.Compare(b) })
	best := 0
	for i := range ts {
		j := i
		for j < len(ts) && ts[j].Sub(ts[i]) < time.Second {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

func budgetClient(t *testing.T, base string, b swonkie.Budget) *swonkie.Client {
	t.Helper()
	c, err := swonkie.New(swonkie.Config{BaseURL: base, APIID: "app-fleet", APIKey: "key-fleet", Budget: b, MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestFleetBudgetIsShared: two workers with their own budget objects on
// one Redis, each calling as fast as it can, stay within 5 calls/s plus
// the burst in every one-second window at the server.
func TestFleetBudgetIsShared(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	calls, base := newCallLog(t, nil)
	m := metrics.New(metrics.Options{})
	const rate, burst = 5, 2
	ctx, cancel := context.WithTimeout(context.Background(), 2200*time.Millisecond)
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		c := budgetClient(t, base, budget.NewFleet(r.Client, "app-fleet", rate, burst, m, zerolog.Nop()))
		for range 3 {
			wg.Go(func() {
				for ctx.Err() == nil {
					_, _ = c.ListProfiles(ctx)
				}
			})
		}
	}
	wg.Wait()
	got := calls.times("/profiles")
	if n := busiestSecond(got); n > rate+burst {
		t.Fatalf("busiest second held %d calls, want at most %d", n, rate+burst)
	}
	// Pacing, not starving: 2.2 s at 5/s with a burst of 2 is about 12.
	if len(got) < 9 {
		t.Fatalf("only %d calls in 2.2 s", len(got))
	}
	if metricsCount(t, m, "mediaflow_swonkie_budget_wait_seconds", "fleet") < uint64(len(got)) {
		t.Fatal("fleet waits were not observed")
	}
}

// TestFleetBudgetPauseIsShared: a 429 with Retry-After: 2 seen by one
// worker holds that endpoint for the other, and only that endpoint.
func TestFleetBudgetPauseIsShared(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	var throttledOnce atomic.Bool
	calls, base := newCallLog(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/v2/profiles" && throttledOnce.CompareAndSwap(false, true) {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}
		return false
	})
	m := metrics.New(metrics.Options{})
	a := budgetClient(t, base, budget.NewFleet(r.Client, "app-fleet", 100, 10, m, zerolog.Nop()))
	b := budgetClient(t, base, budget.NewFleet(r.Client, "app-fleet", 100, 10, nil, zerolog.Nop()))
	ctx := context.Background()
	if _, err := a.ListProfiles(ctx); !swonkie.IsRateLimited(err) {
		t.Fatalf("first call: %v, want the 429", err)
	}
	throttledAt := calls.times("/profiles")[0]
	if _, err := b.ListLabels(ctx); err != nil {
		t.Fatal(err)
	}
	if d := calls.times("/labels")[0].Sub(throttledAt); d > time.Second {
		t.Fatalf("another endpoint waited %v", d)
	}
	if v := gaugeValue(t, m, "mediaflow_swonkie_budget_paused", "GET /profiles"); v != 1 {
		t.Fatalf("paused gauge %v while paused", v)
	}
	if _, err := b.ListProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	got := calls.times("/profiles")
	if len(got) != 2 || got[1].Sub(throttledAt) < 1900*time.Millisecond {
		t.Fatalf("the other worker's call came %v after the 429, want about 2s", got[len(got)-1].Sub(throttledAt))
	}
	if _, err := a.ListProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	if v := gaugeValue(t, m, "mediaflow_swonkie_budget_paused", "GET /profiles"); v != 0 {
		t.Fatalf("paused gauge %v after the pause", v)
	}
}

// TestFleetBudgetFallsBackWithoutRedis: with Redis gone the budget still
// paces this process, says so once, and keeps its own pauses.
func TestFleetBudgetFallsBackWithoutRedis(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	r.Stop(t)
	calls, base := newCallLog(t, nil)
	m := metrics.New(metrics.Options{})
	var logs logbuf.Buffer
	bud := budget.NewFleet(r.Client, "app-fleet", 5, 2, m, zerolog.New(&logs))
	c := budgetClient(t, base, bud)
	ctx := context.Background()
	start := time.Now()
	for range 7 {
		if _, err := c.ListProfiles(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 2 at once, then one per 200 ms, as the server saw them.
	got := calls.times("/profiles")
	if spread := got[len(got)-1].Sub(got[0]); spread < 900*time.Millisecond {
		t.Fatalf("7 calls at 5/s with a burst of 2 reached the server within %v: the fallback does not pace", spread)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatalf("7 calls took %v: asking a dead Redis costs too much", time.Since(start))
	}
	if n := strings.Count(logs.String(), "Redis cannot be asked"); n != 1 {
		t.Fatalf("the outage was logged %d times:\n%s", n, logs.String())
	}
	if metricsCount(t, m, "mediaflow_swonkie_budget_wait_seconds", "local") != 7 {
		t.Fatal("local waits were not observed")
	}
	bud.Throttled("GET /profiles", time.Second)
	pausedAt := time.Now()
	if _, err := c.ListProfiles(ctx); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(pausedAt); d < 900*time.Millisecond {
		t.Fatalf("a pause with Redis down held the call only %v", d)
	}
}

func metricsCount(t *testing.T, m *metrics.Metrics, name, limiter string) uint64 {
	t.Helper()
	return metricstest.Series(t, m.Registry(), name, map[string]string{"limiter": limiter}).GetHistogram().GetSampleCount()
}

func gaugeValue(t *testing.T, m *metrics.Metrics, name, endpoint string) float64 {
	t.Helper()
	s := metricstest.Series(t, m.Registry(), name, map[string]string{"endpoint": endpoint})
	if s == nil {
		return -1
	}
	return s.GetGauge().GetValue()
}

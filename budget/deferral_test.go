package budget_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/budget"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie"
)

// A caller that holds at most 300 ms (swonkie.HoldAtMost) is not kept
// waiting once the budget is spent: it is deferred with a turn, and the
// turns of callers deferred one after another are an emission interval
// apart, so they come back at the budget's pace. A caller without a limit
// still waits its turn as before.
func TestSpentBudgetDefersCallersThatHoldLittle(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	const rate, burst = 5, 2
	b := budget.NewFleet(r.Client, "deferral-app", rate, burst, nil, zerolog.Nop())
	defer b.Close()
	hold := swonkie.HoldAtMost(context.Background(), 300*time.Millisecond)

	for i := range burst {
		if err := b.Wait(hold, "GET /posts"); err != nil {
			t.Fatalf("call %d of the burst: %v", i, err)
		}
	}
	// Ten callers at once: about one gets a send time within the hold.
	var mu sync.Mutex
	var turns []time.Time // when each deferred caller is told to come back
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			start := time.Now()
			err := b.Wait(hold, "GET /posts")
			// The hold, its jitter (up to a tenth) and one more round
			// trip, with room for a loaded machine.
			if took := time.Since(start); took > 450*time.Millisecond {
				t.Errorf("caller %d was held %v, more than it accepts", i, took)
			}
			var de *swonkie.DeferredError
			if errors.As(err, &de) {
				mu.Lock()
				turns = append(turns, time.Now().Add(de.RetryIn))
				mu.Unlock()
			} else if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	slices.SortFunc(turns, time.Time.Compare)
	if len(turns) < 7 {
		t.Fatalf("the spent budget deferred %d of 10 callers; want all but the few it can serve within 300 ms", len(turns))
	}
	if first := time.Until(turns[0]); first > 2*time.Second {
		t.Errorf("the first turn is %v away; the budget serves a call every %v", first, time.Second/rate)
	}
	interval := time.Second / rate
	for i := 1; i < len(turns); i++ {
		if gap := turns[i].Sub(turns[i-1]); gap < interval-50*time.Millisecond {
			t.Errorf("turns %d and %d: %v apart, want about the emission interval %v", i-1, i, gap, interval)
		}
	}
	// Without a limit the caller waits rather than being deferred.
	if err := b.Wait(context.Background(), "GET /posts"); err != nil {
		t.Errorf("a caller without a hold limit: %v", err)
	}
}

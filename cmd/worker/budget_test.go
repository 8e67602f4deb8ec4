package main

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// Issue 12: SWONKIE_RATE_LIMIT is the fleet's, not each worker's. 1, 2 and
// 4 workers on one Redis drain the same load against one sandbox, which
// counts the calls that reach it in every one-second window: the busiest
// holds at most rate + burst calls however many workers send them.
func TestFleetSharesTheSwonkieBudget(t *testing.T) {
	t.Parallel()
	const (
		limit     = 5
		burst     = 2
		pipelines = 8
	)
	for _, workers := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("%d workers", workers), func(t *testing.T) {
			t.Parallel()
			r := redistest.New(t)
			sb := sandbox.Start(t, sandbox.Options{APIID: "budget-id", APIKey: "budget-key", Seed: 12,
				ProcessingDelay: 200 * time.Millisecond, PublishDelay: 200 * time.Millisecond})
			ok, _ := profilesOf(t, sb.Server)
			env := []string{
				"REDIS_URL=" + r.URL, "SWONKIE_BASE_URL=" + sb.BaseURL, "SWONKIE_API_ID=budget-id", "SWONKIE_API_KEY=budget-key",
				"MEDIA_ROOT=" + mediaRoot(t, 1), "LOG_LEVEL=error", "CONCURRENCY=8", "SWEEP_SCHEDULE=off",
				"SWONKIE_RATE_LIMIT=" + strconv.Itoa(limit), "SWONKIE_RATE_BURST=" + strconv.Itoa(burst),
			}
			var procs []*process
			for range workers {
				procs = append(procs, startWorker(t, env))
			}
			client := tasks.NewClient(r.Client)
			defer client.Close()
			start := time.Now()
			var ids []string
			for i := range pipelines {
				rec, _, err := publishRetrying(t, client, tasks.Request{
					Post:   &tasks.PostSpec{ProfileIDs: ok[:1], Caption: fmt.Sprintf("budget %d", i)},
					Media:  []tasks.MediaSource{{Source: "m0.png"}},
					Action: tasks.ActionPublishNow,
				})
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, rec.ID)
			}
			recs := waitDone(t, client, r.Client, ids, 90*time.Second, procs...)
			took := time.Since(start)
			for _, rec := range recs {
				if rec.State != tasks.StateSucceeded {
					t.Errorf("pipeline %s ended %s (%+v)", rec.ID, rec.State, rec.Error)
				}
			}
			st := sb.Server.Stats()
			calls, _ := sb.Server.BusiestWindow(time.Hour)
			if st.BusiestSecond > limit+burst {
				t.Errorf("%d calls within one second from %s (rate %d, burst %d)", st.BusiestSecond, st.BusiestSecondAt.Format("15:04:05.000"), limit, burst)
			}
			// The budget must be what bounds the run, or the check above
			// proves nothing: unpaced, this load takes well under a second
			// per call batch.
			if min := time.Duration(float64(calls-burst) / limit * float64(time.Second)); took < min*9/10 {
				t.Errorf("%d calls in %v: faster than %d/s allows", calls, took, limit)
			}
			t.Logf("%d workers, SWONKIE_RATE_LIMIT=%d burst %d: %d calls in %v = %.2f calls/s; busiest second %d",
				workers, limit, burst, calls, took.Round(100*time.Millisecond), float64(calls)/took.Seconds(), st.BusiestSecond)
			for _, p := range procs {
				p.stop(t)
			}
		})
	}
}

package tasks

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A workspace with maxActive 1 runs one pipeline at a time, fleet-wide:
// six pipelines published at once all succeed, never more than one holds
// a place among the workspace's active pipelines, and the others gave
// their slots back (mediaflow_runs_deferred_total, max_active) instead of
// failing or spending retries.
func TestMaxActiveBoundsAWorkspacesActivePipelines(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.worker.SetMaxActive(map[string]int{DefaultWorkspace: 1})
	key := "mediaflow:active:{" + DefaultWorkspace + "}"
	var most atomic.Int64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			members, err := b.redis.Client.ZRange(context.Background(), key, 0, -1).Result()
			if err != nil {
				continue
			}
			pipelines := map[string]bool{}
			for _, m := range members {
				p, _, _ := strings.Cut(m, " ")
				pipelines[p] = true
			}
			if n := int64(len(pipelines)); n > most.Load() {
				most.Store(n)
			}
		}
	}()
	ids := b.publishAllSucceed(6, "a.png")
	close(stop)
	<-sampled
	if got := most.Load(); got != 1 {
		t.Errorf("at most %d pipelines of the workspace were active at once; want exactly maxActive, 1", got)
	}
	deferred := b.metricValue("mediaflow_runs_deferred_total", map[string]string{"workspace": DefaultWorkspace, "reason": "max_active"})
	if deferred == 0 {
		t.Error("no run was deferred for maxActive; six pipelines at once must have waited for their turns")
	}
	for _, id := range ids {
		rec := b.wait(id)
		for _, e := range rec.History {
			if e.Outcome != "ok" && e.Outcome != "info" {
				t.Errorf("pipeline %s recorded a %s at %s; waiting for a place is no failure and spends no retry: %s", id, e.Outcome, e.Step, dump(rec))
			}
		}
	}
	t.Logf("%d runs deferred for maxActive", int(deferred))
}

package tasks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// sweepNow runs one sweep through the worker (as the scheduler would) and
// returns its result.
func (b *bundle) sweepNow() SweepResult {
	b.t.Helper()
	ctx := context.Background()
	before, _ := b.client.Sweeps(ctx)
	slot := strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := enqueueStep(ctx, b.client.enq, b.timing, TypeCleanupSweep, Payload{Slot: slot}); err != nil {
		b.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		got, _ := b.client.Sweeps(ctx)
		if len(got) > len(before) && got[0].Slot == slot {
			if got[0].Error != "" {
				b.t.Fatalf("sweep failed: %s", got[0].Error)
			}
			return got[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.t.Fatal("the sweep did not run")
	return SweepResult{}
}

func TestSweepFailsAndCleansStuckPipelines(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.StuckAfter = time.Second
	timing.AwaitCap = time.Hour
	b := setup(t, func(c *setupConfig) {
		c.timing = timing
		c.sandbox.ProcessingDelay = time.Hour // media never become ready
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png", "b.png"))
	rec = b.waitRecord(rec.ID, "processing", func(r *Record) bool {
		return r.Media[0].Status == ItemConfirmed && r.Media[1].Status == ItemConfirmed
	})
	time.Sleep(1500 * time.Millisecond)
	res := b.sweepNow()
	if res.StuckFailed != 1 {
		t.Fatalf("sweep result %+v, want one stuck pipeline failed", res)
	}
	rec = b.waitRecord(rec.ID, "compensation", func(r *Record) bool { return r.Cleanup == "done" })
	if rec.State != StateFailed || rec.Error == nil || rec.Error.Step != StepAwait {
		t.Fatalf("ended %s", dump(rec))
	}
	b.assertDeleted(rec)
	b.assertClean()
	// Reported as well as acted on.
	if v := b.metricValue("mediaflow_sweep_pipelines_total", map[string]string{"action": "stuck_failed"}); v != 1 {
		t.Errorf("sweep metric stuck_failed = %v", v)
	}
}

// A crash between a record write and its index update leaves the due
// index behind the record; a post scheduled far ahead must not be failed
// as stuck for it.
func TestSweepTrustsTheRecordsDueTime(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.StuckAfter = time.Second
	b := setup(t, func(c *setupConfig) { c.timing = timing })
	req := b.request(ActionSchedule, "a.png")
	at := time.Now().Add(time.Hour)
	req.Post.PublishAt = &at
	rec := b.waitRecord(b.publish(req).ID, "staged", func(r *Record) bool { return r.Staged })
	ctx := context.Background()
	stale := float64(time.Now().Add(-time.Minute).UnixMilli())
	if err := b.redis.Client.ZAddXX(ctx, "mediaflow:pipelines:due", redis.Z{Score: stale, Member: rec.ID}).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past UpdatedAt + StuckAfter
	if res := b.sweepNow(); res.StuckFailed != 0 || res.Refreshed != 1 {
		t.Fatalf("sweep result %+v, want the due entry refreshed and nothing failed", res)
	}
	if rec, _ = b.client.Get(ctx, rec.ID); rec.State != StateRunning {
		t.Fatalf("ended %s", dump(rec))
	}
	score, _ := b.redis.Client.ZScore(ctx, "mediaflow:pipelines:due", rec.ID).Result()
	if time.UnixMilli(int64(score)).Before(at) {
		t.Fatalf("due entry moved to %s, before the post's publishAt", time.UnixMilli(int64(score)))
	}
}

func TestSweepKicksPipelinesWhoseFirstStepsWereLost(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.PendingKick = 100 * time.Millisecond
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing = timing })
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	if n, err := insp.DeleteAllPendingTasks(QueuePipeline); err != nil || n != 1 {
		t.Fatalf("deleted %d pending tasks (%v); want the one upload", n, err)
	}
	time.Sleep(200 * time.Millisecond)
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing})
	if res := b.sweepNow(); res.Kicked != 1 {
		t.Fatalf("sweep result %+v, want one pipeline kicked", res)
	}
	if rec = b.wait(rec.ID); rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
}

func TestSweepRetriesUnfinishedCleanups(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.MaxRetry = 1
	timing.CleanupRetryAfter = 100 * time.Millisecond
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing = timing })
	// Storage refuses deletes (503) until the test lets them through.
	var refuse atomic.Bool
	refuse.Store(true)
	wrapped := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodDelete && refuse.Load() {
			http.Error(w, `{"statusCode":503,"message":"maintenance"}`, http.StatusServiceUnavailable)
			return
		}
		b.sb.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(wrapped.Close)
	b.api = b.newAPIClient(wrapped.URL + "/v2")
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing})

	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	rec = b.waitRecord(rec.ID, "the cleanup to give up", func(r *Record) bool {
		return r.Error != nil && r.Error.Step == StepCleanup && hasEvent(r, StepCleanup, "failed", "")
	})
	if rec.Cleanup != "pending" {
		t.Fatalf("cleanup %q after the cleanup task gave up: %s", rec.Cleanup, dump(rec))
	}
	refuse.Store(false)
	time.Sleep(200 * time.Millisecond)
	if res := b.sweepNow(); res.CleanupRetried != 1 {
		t.Fatalf("sweep result %+v, want one cleanup retried", res)
	}
	rec = b.waitRecord(rec.ID, "the retried cleanup", func(r *Record) bool { return r.Cleanup == "done" })
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	b.assertDeleted(rec)
	b.assertClean()
}

func TestSweepDeletesRecordsPastRetention(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.Retention = time.Hour
	b := setup(t, func(c *setupConfig) { c.timing = timing })
	old := b.wait(b.publish(b.request(ActionDraft, "a.png")).ID)
	fresh := b.wait(b.publish(b.request(ActionDraft, "b.png")).ID)
	running := b.publish(b.request(ActionSchedule, "c.png"))
	// Age two records past retention where the sweep reads their age: the
	// creation index.
	ctx := context.Background()
	past := float64(time.Now().Add(-2 * time.Hour).UnixMilli())
	for _, id := range []string{old.ID, running.ID} {
		if err := b.redis.Client.ZAddXX(ctx, "mediaflow:pipelines", redis.Z{Score: past, Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if res := b.sweepNow(); res.RetentionDeleted != 1 {
		t.Fatalf("sweep result %+v, want one record deleted", res)
	}
	if _, err := b.client.Get(ctx, old.ID); !IsNotFound(err) {
		t.Fatalf("old record: %v", err)
	}
	// Young, or not finished: kept.
	for _, id := range []string{fresh.ID, running.ID} {
		if _, err := b.client.Get(ctx, id); err != nil {
			t.Fatalf("record %s: %v", id, err)
		}
	}
	page, err := b.client.List(ctx, ListOptions{State: StateSucceeded})
	if err != nil || len(page.Records) != 1 || page.Records[0].ID != fresh.ID {
		t.Fatalf("listing after retention: %+v %v", page, err)
	}
}

// Two workers on one Redis, each with its own scheduler: every slot is
// swept exactly once.
func TestTwoWorkersSweepEachSlotOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	var workers []*Worker
	for i := range 2 {
		w, err := NewWorker(WorkerConfig{
			Redis: b.redis.Client, API: b.api, Sources: b.sources, Logger: zerolog.New(b.logs),
			PollInterval: 20 * time.Millisecond, DelayedCheckInterval: 100 * time.Millisecond,
			SweepSchedule: "@every 1s", Timing: testTiming, Holder: "worker-" + strconv.Itoa(i),
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(); err != nil {
			t.Fatal(err)
		}
		workers = append(workers, w)
	}
	time.Sleep(4500 * time.Millisecond)
	for _, w := range workers {
		w.Shutdown()
	}
	sweeps, err := b.client.Sweeps(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(sweeps) < 2 {
		t.Fatalf("%d sweeps in 4.5s of a 1s schedule", len(sweeps))
	}
	seen := map[string]string{}
	for _, s := range sweeps {
		if other, dup := seen[s.Slot]; dup {
			t.Fatalf("slot %s swept by %s and %s", s.Slot, other, s.Holder)
		}
		seen[s.Slot] = s.Holder
	}
	// Both schedulers enqueued every slot; the task id (and, behind it,
	// the claim) let only one of them run.
	claims, _ := b.redis.Client.Keys(context.Background(), "mediaflow:sweep:*").Result()
	if len(claims) != len(sweeps) {
		t.Fatalf("%d claims for %d sweeps", len(claims), len(sweeps))
	}
}

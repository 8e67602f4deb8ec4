package tasks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/rs/zerolog"
)

// sweepOnce runs the worker's sweep work directly, on its clock.
func (b *bundle) sweepOnce(w *Worker) SweepResult {
	b.t.Helper()
	res, err := w.RunSweep(context.Background())
	if err != nil {
		b.t.Fatalf("sweep: %v (result %+v)", err, res)
	}
	return res
}

// A backlog is not a stuck pipeline: with nobody serving the pipeline
// queue, however long the sweep's clock runs past STUCK_AFTER, no
// pipeline is failed (their tasks are pending); a scheduled one waiting
// for its publishAt is not failed either. Then workers drain them all.
func TestSweepNeverFailsABacklog(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.StuckAfter = time.Minute
	timing.PendingKick = time.Second
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.queues = map[string]int{QueueCleanup: 1} // the sweep runs, the pipelines wait
	})
	const n = 50
	ids := make([]string, n)
	for i := range n {
		ids[i] = b.publish(b.request(ActionPublishNow, "a.png")).ID
	}
	for range 6 {
		clock.Advance(time.Hour)
		res := b.sweepOnce(b.worker)
		if res.StuckFailed != 0 || res.Kicked != 0 || res.Refreshed != n {
			t.Fatalf("sweep over a backlog: %+v; want all %d refreshed, none kicked or failed", res, n)
		}
	}
	if v := b.metricValue("mediaflow_pipelines_finished_total", map[string]string{"state": "failed"}); v != 0 {
		t.Fatalf("%v pipelines counted failed", v)
	}
	b.startWorker(setupConfig{concurrency: 10, sweep: "off", timing: timing, clock: clock})
	for _, id := range ids {
		if rec := b.wait(id); rec.State != StateSucceeded {
			t.Fatalf("pipeline %s ended %s", id, dump(rec))
		}
	}
	b.assertClean()
}

// A pipeline whose tasks were deleted by hand is kicked (its missing task
// enqueued again) and moves on; one whose task is lost again after the
// kick and that made no progress for STUCK_AFTER is failed as stuck, and
// compensated.
func TestSweepKicksLostTasksAndFailsOnlyWhatCannotMove(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.StuckAfter = 10 * time.Minute
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.queues = map[string]int{QueueCleanup: 1}
	})
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	dropPending := func(want int) {
		t.Helper()
		if n, err := insp.DeleteAllPendingTasks(QueuePipeline); err != nil || n != want {
			t.Fatalf("deleted %d pending tasks (%v); want %d", n, err, want)
		}
	}
	moves := b.publish(b.request(ActionPublishNow, "a.png"))
	stuck := b.publish(b.request(ActionPublishNow, "b.png"))
	dropPending(2)

	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(b.worker); res.Kicked != 2 || res.StuckFailed != 0 {
		t.Fatalf("first sweep: %+v; want both kicked", res)
	}
	// The kick put the uploads back; lose the stuck one's again.
	if err := insp.DeleteTask(QueuePipeline, mediaTaskID(TypeMediaUpload, Payload{PipelineID: stuck.ID})); err != nil {
		t.Fatal(err)
	}
	clock.Advance(timing.StuckAfter)
	if res := b.sweepOnce(b.worker); res.StuckFailed != 1 || res.Refreshed != 1 {
		t.Fatalf("second sweep: %+v; want the one with a pending task refreshed, the other failed", res)
	}
	b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	if rec := b.wait(moves.ID); rec.State != StateSucceeded {
		t.Fatalf("kicked pipeline ended %s", dump(rec))
	}
	rec := b.waitRecord(stuck.ID, "compensation", func(r *Record) bool { return r.Cleanup == CleanupDone })
	if rec.State != StateFailed || rec.Error == nil || !strings.Contains(rec.Error.Message, "stuck") {
		t.Fatalf("stuck pipeline ended %s", dump(rec))
	}
	b.assertClean()
}

func TestSweepRetriesUnfinishedCleanups(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.MaxRetry = 1
	timing.CleanupRetryAfter = time.Minute
	clock := newFakeClock()
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
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})

	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	rec = b.waitRecord(rec.ID, "the cleanup to give up", func(r *Record) bool {
		return hasEvent(r, StepCleanup, "failure", "")
	})
	if rec.Cleanup != CleanupPending {
		t.Fatalf("cleanup %q after the cleanup task gave up: %s", rec.Cleanup, dump(rec))
	}
	// The failure is written before the handler returns; until asynq has
	// archived the task, the sweep rightly finds it alive (a fresh-clone
	// make test swept in between once).
	waitUntil(t, func() bool { return !b.tasksLeft(rec.ID) })
	refuse.Store(false)
	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(b.worker); res.CleanupRetried != 1 {
		t.Fatalf("sweep result %+v, want one cleanup retried", res)
	}
	rec = b.waitRecord(rec.ID, "the retried cleanup", func(r *Record) bool { return r.Cleanup == CleanupDone })
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	b.assertDeleted(rec)
	b.assertClean()
}

// Retention goes by the time a record finished, through an index of
// finished records only: 250 pipelines scheduled a month ahead (and old)
// do not hold up the deletion of 1,000 finished ones.
func TestSweepRetentionIsNotHeldUpByUnfinishedRecords(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.Retention = 24 * time.Hour
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.queues = map[string]int{QueueCleanup: 1}
	})
	ctx := context.Background()
	st := b.client.store
	long := clock.Now().Add(-40 * 24 * time.Hour) // older than any finished record
	for i := range 250 {
		at := clock.Now().Add(30 * 24 * time.Hour)
		r := handMade(fmt.Sprintf("scheduled-%d", i), StateRunning, long)
		r.Request.Action, r.Request.Post.PublishAt = ActionSchedule, &at
		if _, _, err := st.create(ctx, r, at); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 1000 {
		finished := clock.Now().Add(-48*time.Hour + time.Duration(i)*time.Second)
		r := handMade(fmt.Sprintf("finished-%d", i), StateSucceeded, finished.Add(-time.Minute))
		r.FinishedAt, r.Cleanup = &finished, CleanupDone
		if _, _, err := st.create(ctx, r, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for range 3 {
		res := b.sweepOnce(b.worker)
		total += res.RetentionDeleted
		if !res.RetentionLeft {
			break
		}
	}
	if total != 1000 {
		t.Fatalf("retention deleted %d records, want 1000", total)
	}
	for _, state := range []State{StateSucceeded, StateRunning} {
		n, next := 0, ""
		for {
			page, err := b.client.List(ctx, ListOptions{State: state, Cursor: next, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			n += len(page.Records)
			if next = page.Next; next == "" {
				break
			}
		}
		want := map[State]int{StateSucceeded: 0, StateRunning: 250}[state]
		if n != want {
			t.Errorf("%d %s records listed after retention, want %d", n, state, want)
		}
	}
}

// handMade is a record as the store would hold it, for tests that need
// many without running them.
func handMade(key string, state State, created time.Time) *Record {
	r := &Record{
		ID: PipelineID(key), Key: key, State: state, Step: StepUpload,
		Request: Request{Key: key, Media: []MediaSource{{Source: "a.png"}}, Post: &PostSpec{Type: "MEDIA", ProfileIDs: []string{"p"}, Caption: "c"},
			Action: ActionPublishNow, Cleanup: CleanupAfterPublish},
		Media:     []MediaItem{{Source: "a.png", Status: ItemPending}},
		CreatedAt: created, UpdatedAt: created,
	}
	if state.Terminal() {
		r.Step = StepDone
	}
	r.fingerprint = r.Request.fingerprint()
	return r
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

// Starting or stopping a worker twice is harmless (the second Shutdown
// used to panic closing a closed channel).
func TestWorkerStartAndShutdownAreIdempotent(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.sweep = "@every 1h" })
	if err := b.worker.Start(); err != nil {
		t.Fatalf("second Start: %v", err)
	}
	b.worker.Shutdown()
	b.worker.Shutdown()
}

// A step run inline is no task of its own in asynq: a single media's
// upload runs inside its pre-flight's task. A sweep that comes while the
// upload streams (a pipeline past PENDING_KICK_AFTER: it waited in a
// backlog) must not take the upload for lost and enqueue it again: the
// second run would find the entry made and abandon it from under the
// upload still running, and make a second entry and upload the file
// again.
func TestSweepLeavesAnInlineStepRunning(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, withPreflight, func(c *setupConfig) { c.noWorker = true; c.timing, c.clock = timing, clock })
	uploading, release := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	srv := httptest.NewServer(&interposer{sb: b.sb, before: func(w http.ResponseWriter, r *http.Request) bool {
		if r.Method == http.MethodPut && strings.HasPrefix(r.URL.Path, "/blob/") && once.CompareAndSwap(false, true) {
			close(uploading)
			<-release // the file is still on its way
		}
		return false
	}})
	t.Cleanup(srv.Close)
	b.api = b.newAPIClient(srv.URL + "/v2")
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	var facebook []string
	for _, p := range b.sb.Server.Profiles() {
		if p.Net.Code == "facebook" && p.StatusLevel == "OK" {
			facebook = append(facebook, p.ID)
		}
	}
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = facebook[:1]
	rec := b.publish(req)
	select {
	case <-uploading:
	case <-time.After(20 * time.Second):
		t.Fatalf("the upload never started: %s", dump(b.waitRecord(rec.ID, "a look", func(*Record) bool { return true })))
	}
	clock.Advance(2 * timing.PendingKick)
	res := b.sweepOnce(b.worker)
	if res.Kicked > 0 {
		// A second run of the upload has its go before the first one's
		// file gets through.
		b.waitRecord(rec.ID, "the kicked upload's go", func(r *Record) bool { return r.Media[0].Generation > 0 })
	}
	close(release)
	rec = b.wait(rec.ID)
	if rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	if res.Kicked != 0 {
		t.Errorf("the sweep kicked the pipeline whose upload was running inline: %+v", res)
	}
	if n := len(b.sb.Server.AllMedia()); n != 1 || len(rec.StaleMedia) != 0 {
		t.Errorf("%d media entries made, %d abandoned; want the one, uploaded once: %s", n, len(rec.StaleMedia), dump(rec))
	}
	b.settled(rec.ID)
	b.assertClean()
}

// A replayed pipeline whose first task is lost (the replay's enqueue
// failed after its record write, as the API says "the sweep will") is
// kicked by the sweep like any pending pipeline: the replay puts it back
// in the due index its ending took it out of. Without that it waited
// pending forever, out of the sweep's sight (I2).
func TestSweepKicksAReplayWhoseTaskIsLost(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing, c.clock = timing, clock })
	w := b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = []string{"UHJvZmlsZUlkbm9zdWNo"}
	rec := b.waitOver(b.publish(req).ID)
	if rec.State != StateFailed {
		t.Fatalf("with an unknown profile: %s", dump(rec))
	}
	w.Shutdown()
	if _, err := b.client.Replay(context.Background(), rec.ID, Edit{Post: &PostEdit{ProfileIDs: b.profiles[:1]}}, "tester"); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	if n, err := insp.DeleteAllPendingTasks(QueuePipeline); err != nil || n != 1 {
		t.Fatalf("deleted %d pending tasks (%v); want the replay's first", n, err)
	}
	sweeper := b.startWorker(setupConfig{concurrency: 1, sweep: "off", timing: timing, clock: clock, queues: map[string]int{QueueCleanup: 1}})
	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(sweeper); res.Kicked != 1 {
		t.Fatalf("sweep: %+v; want the replayed pipeline kicked", res)
	}
	b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	if rec = b.wait(rec.ID); rec.State != StateSucceeded || rec.Replays != 1 {
		t.Fatalf("the kicked replay ended %s", dump(rec))
	}
}

// A replay is as young as its attempt, not its pipeline: the sweep fails
// a replay as stuck only once nothing moved for STUCK_AFTER since the
// replay. Counted from the pipeline's creation (days ago, say), a replay
// whose kicked task was lost again was failed at the next sweep.
func TestSweepCountsAReplaysStuckTimeFromTheReplay(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.PendingKick = time.Minute
	timing.StuckAfter = 10 * time.Minute
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing, c.clock = timing, clock })
	w := b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = []string{"UHJvZmlsZUlkbm9zdWNo"}
	rec := b.waitOver(b.publish(req).ID)
	if rec.State != StateFailed {
		t.Fatalf("with an unknown profile: %s", dump(rec))
	}
	w.Shutdown()
	ctx := context.Background()
	// As if it had been accepted an hour ago.
	full, err := b.client.store.get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.store.update(ctx, full, func(r *Record) error {
		r.CreatedAt = r.CreatedAt.Add(-time.Hour)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Replay(ctx, rec.ID, Edit{}, "tester"); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	dropPending := func() {
		t.Helper()
		if n, err := insp.DeleteAllPendingTasks(QueuePipeline); err != nil || n != 1 {
			t.Fatalf("deleted %d pending tasks (%v); want 1", n, err)
		}
	}
	dropPending()
	sweeper := b.startWorker(setupConfig{concurrency: 1, sweep: "off", timing: timing, clock: clock, queues: map[string]int{QueueCleanup: 1}})
	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(sweeper); res.Kicked != 1 {
		t.Fatalf("first sweep: %+v; want the replay kicked", res)
	}
	dropPending()
	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(sweeper); res.StuckFailed != 0 || res.Kicked != 1 {
		t.Fatalf("second sweep, 4 minutes after the replay: %+v; want it kicked again, not failed as stuck", res)
	}
}

// A pipeline already ending (here a cancel, whose post is still to be
// withdrawn) whose cleanup task is lost again after a kick is not failed
// as stuck: failing it adds nothing (its cleanup is all it needs, and
// the sweep enqueues that again), and it turned the cancel into a
// failure, reported as "stuck", once the cleanup withdrew the post.
func TestSweepDoesNotFailAnEndingPipelineAsStuck(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.StuckAfter = 10 * time.Minute
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) { c.noWorker = true; c.timing, c.clock = timing, clock })
	w := b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	req := b.request(ActionSchedule, "a.png")
	at := time.Now().Add(2 * time.Hour)
	req.Post.PublishAt = &at
	rec := b.waitRecord(b.publish(req).ID, "staged", func(r *Record) bool { return r.Staged })
	w.Shutdown()
	ctx := context.Background()
	if _, err := b.client.Cancel(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	dropCleanup := func() {
		t.Helper()
		if n, err := insp.DeleteAllPendingTasks(QueueCleanup); err != nil || n != 1 {
			t.Fatalf("deleted %d pending cleanup tasks (%v); want 1", n, err)
		}
	}
	dropCleanup()
	sweeper := b.startWorker(setupConfig{concurrency: 1, sweep: "off", timing: timing, clock: clock, queues: map[string]int{QueueNotify: 1}})
	clock.Advance(2 * time.Minute)
	if res := b.sweepOnce(sweeper); res.Kicked != 1 {
		t.Fatalf("first sweep: %+v; want the cancelled pipeline kicked", res)
	}
	dropCleanup()
	clock.Advance(timing.StuckAfter)
	if res := b.sweepOnce(sweeper); res.StuckFailed != 0 {
		t.Errorf("second sweep: %+v; want the ending pipeline kicked again, not failed as stuck", res)
	}
	b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	if rec = b.waitOver(rec.ID); rec.State != StateCancelled {
		t.Fatalf("the cancelled pipeline ended %s", dump(rec))
	}
}

// One record the sweep cannot read (a packed value of a format this
// worker does not know: one a newer worker packed, before a rollback)
// does not stop the sweep of its shard: the pipelines due after it in the
// same shard are still kicked. The sweep used to return at the first
// record it could not read, which stays the oldest due entry, so every
// later sweep stopped there too and a sixteenth of all pipelines were
// never kicked nor failed as stuck.
func TestSweepGoesOnPastARecordItCannotRead(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.StuckAfter = 10 * time.Minute
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.queues = map[string]int{QueueCleanup: 1}
	})
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	lost := b.publish(b.request(ActionPublishNow, "a.png"))
	if n, err := insp.DeleteAllPendingTasks(QueuePipeline); err != nil || n != 1 {
		t.Fatalf("deleted %d pending tasks (%v); want 1", n, err)
	}
	// An unreadable record in the same shard, due before it.
	var bad string
	for bad == "" || rdb.ShardOf(bad) != rdb.ShardOf(lost.ID) {
		bad = PipelineID("")
	}
	r := rdb.New(b.redis.Client, stateNames())
	at := clock.Now().Add(-time.Hour)
	if created, _, err := r.CreateBody(context.Background(), bad, rdb.Body{Packed: []byte{99, 1, 2, 3}},
		rdb.Meta{State: string(StatePending), Created: at, Due: at}, nil); err != nil || !created {
		t.Fatalf("create the unreadable record: %v %v", created, err)
	}
	clock.Advance(2 * time.Minute)
	res, err := b.worker.RunSweep(context.Background())
	if res.Kicked != 1 {
		t.Fatalf("sweep: %+v (%v); want the lost pipeline kicked past the unreadable record", res, err)
	}
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("sweep error %v; want it to name the unreadable record %s", err, bad)
	}
	if _, err := insp.GetTaskInfo(QueuePipeline, mediaTaskID(TypeMediaUpload, Payload{PipelineID: lost.ID})); err != nil {
		t.Fatalf("the lost pipeline's upload was not enqueued again: %v", err)
	}
}

// A webhook (or cleanup) whose task was lost is enqueued again by the
// sweep however many older ones are still owed with their tasks alive: a
// receiver down for a while leaves hundreds of events owed, retrying. The
// sweep read only the 200 oldest owed entries of each shard, which do not
// move while their tasks live, so a newer pipeline whose task was lost
// (a Redis failover, a task deleted by hand) waited until every older one
// was delivered or given up, a day later.
func TestSweepRetriesALostWebhookBehindManyOwed(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.CleanupRetryAfter = time.Minute
	clock := newFakeClock()
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	t.Cleanup(receiver.Close)
	b := setup(t, func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.webhookURL = receiver.URL
		// Nobody serves the webhook queue: events stay owed, their
		// tasks pending.
		c.queues = map[string]int{QueuePipeline: 4, QueueCleanup: 1}
	})
	rec := b.publish(b.request(ActionPublishNow, "a.png"))
	rec = b.waitRecord(rec.ID, "the pipeline to end owing its webhook", func(r *Record) bool {
		return r.State == StateSucceeded && r.Cleanup == CleanupDone
	})
	// Many older pipelines owing their webhook, tasks alive.
	const copies = 4000
	created := make([]time.Time, copies)
	for i := range created {
		created[i] = rec.CreatedAt.Add(-time.Hour + time.Duration(i)*time.Millisecond)
	}
	ids, err := b.client.SeedCopies(context.Background(), []string{rec.ID}, created, true)
	if err != nil {
		t.Fatal(err)
	}
	older := 0
	for _, id := range ids {
		if rdb.ShardOf(id) == rdb.ShardOf(rec.ID) {
			older++
		}
	}
	if older <= sweepBatch {
		t.Fatalf("only %d older owed records in the pipeline's shard; the test needs more than %d", older, sweepBatch)
	}
	// The pipeline's own webhook task is lost.
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	taskID := next{typ: TypeNotifyWebhook, pl: Payload{PipelineID: rec.ID, Event: EventSucceeded}}.id()
	if err := insp.DeleteTask(QueueNotify, taskID); err != nil {
		t.Fatalf("delete the webhook task: %v", err)
	}
	clock.Advance(2 * time.Minute)
	res := b.sweepOnce(b.worker)
	if _, err := insp.GetTaskInfo(QueueNotify, taskID); err != nil {
		t.Fatalf("the lost webhook task was not enqueued again (%v); sweep %+v", err, res)
	}
}

package tasks

import (
	"context"
	"fmt"
	"github.com/hibiken/asynq"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestBulkFilterMatches(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 1, 2, 9, 0, 0, 0, time.UTC)
	created := time.Date(2029, 12, 1, 0, 0, 0, 0, time.UTC)
	rec := &Record{ID: "p", Key: "week-12/mon", State: StateRunning, CreatedAt: created, LabelIDs: []string{"lab_9"},
		Request: Request{Post: &PostSpec{ProfileIDs: []string{"prof_1", "prof_2"}, Labels: []string{"summer"}, PublishAt: &at}}}
	before, after := at.Add(-time.Hour), at.Add(time.Hour)
	tests := []struct {
		name string
		f    BulkFilter
		want bool
	}{
		{"empty", BulkFilter{}, true},
		{"state", BulkFilter{States: []State{StateFailed, StateRunning}}, true},
		{"other state", BulkFilter{States: []State{StateFailed}}, false},
		{"key prefix", BulkFilter{KeyPrefix: "week-12/"}, true},
		{"other key prefix", BulkFilter{KeyPrefix: "week-13/"}, false},
		{"label by name", BulkFilter{Label: "summer"}, true},
		{"label by resolved id", BulkFilter{Label: "lab_9"}, true},
		{"other label", BulkFilter{Label: "winter"}, false},
		{"profile", BulkFilter{Profile: "prof_2"}, true},
		{"other profile", BulkFilter{Profile: "prof_3"}, false},
		{"created in range", BulkFilter{CreatedFrom: &created, CreatedTo: &after}, true},
		{"created to is exclusive", BulkFilter{CreatedTo: &created}, false},
		{"publishAt in range", BulkFilter{PublishAtFrom: &before, PublishAtTo: &after}, true},
		{"publishAt before range", BulkFilter{PublishAtFrom: &after}, false},
		{"all at once", BulkFilter{States: []State{StateRunning}, KeyPrefix: "week", Label: "summer", Profile: "prof_1", PublishAtTo: &after}, true},
	}
	for _, tt := range tests {
		if got := tt.f.matches(rec); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	noTime := &Record{Request: Request{Post: &PostSpec{}}}
	if (&BulkFilter{PublishAtTo: &after}).matches(noTime) {
		t.Error("a pipeline without publishAt matched a publishAt range")
	}
}

// seedWaiting writes n scheduled pipelines straight through the store, as
// Publish would have left them once their media were confirmed and are
// processing: the next look at the media is a day away, so rescheduling
// them asks nothing of the workers or Swonkie now, and the test measures
// the operation's own load. Every fourth carries the label "skip".
func (b *bundle) seedWaiting(n int, publishAt time.Time) {
	b.t.Helper()
	now := time.Now().UTC()
	later := now.Add(24 * time.Hour)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				label := "keep"
				if i%4 == 0 {
					label = "skip"
				}
				at := publishAt
				req := Request{Key: fmt.Sprintf("bulk/%05d", i), Media: []MediaSource{{Source: "a.png"}}, Action: ActionSchedule,
					Post: &PostSpec{ProfileIDs: b.profiles[:1], Caption: "seeded", PublishAt: &at, Labels: []string{label}}}
				req.normalize()
				// Accepted a millisecond apart, as real ones are: the
				// listing's cursor is a creation time.
				created := now.Add(-time.Duration(n-i) * time.Millisecond)
				rec := &Record{ID: PipelineID(req.Key), Key: req.Key, State: StateRunning, Step: StepAwait, Request: req,
					fingerprint: req.fingerprint(), CreatedAt: created, UpdatedAt: now, PostType: "MEDIA",
					Media: []MediaItem{{Source: "a.png", Status: ItemConfirmed, MediaID: fmt.Sprintf("seeded-%d", i), ConfirmedAt: &later}}}
				rec.in.ProgressAt = now
				if _, _, err := b.client.store.create(context.Background(), rec, later); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.t.Fatal(err)
	}
}

// attachTime is how long a publishNow pipeline takes from accepted to
// attached.
func (b *bundle) attachTime() time.Duration {
	b.t.Helper()
	rec := b.waitRecord(b.publish(b.request(ActionPublishNow, "a.png")).ID, "attached", func(r *Record) bool { return r.AttachedAt != nil })
	return rec.AttachedAt.Sub(rec.CreatedAt)
}

// Done when: a bulk reschedule of 5,000 scheduled pipelines, a quarter of
// them filtered out by label, ends with the exact counts; meanwhile an
// unrelated publishNow pipeline gets from accepted to attached within
// twice the time it takes with the operation idle; and Redis's slowlog
// shows no command of the operation over 10 ms.
func TestBulkRescheduleOfFiveThousand(t *testing.T) {
	b := setup(t)
	const n = 5000
	publishAt := time.Now().Add(48 * time.Hour).Truncate(time.Second).UTC()
	start := time.Now()
	b.seedWaiting(n, publishAt)
	t.Logf("seeded %d pipelines in %s", n, time.Since(start).Round(time.Millisecond))

	// The operation talks to Redis over its own connection, named, so the
	// slowlog tells its commands from the workers'.
	opRedis := redis.NewClient(&redis.Options{Addr: b.redis.Addr, DB: b.redis.DB, ClientName: "mediaflow-bulk"})
	t.Cleanup(func() { _ = opRedis.Close() })
	opClient := NewClient(opRedis, WithTiming(b.timing))
	t.Cleanup(func() { _ = opClient.Close() })
	ctx := context.Background()
	// The slowlog times each command by the wall clock: on a machine
	// shared with other test runs (a load of 30 on 2 cores), a Redis the
	// scheduler set aside shows a one-key HMGET as 20 ms. This test's own
	// Redis runs as a real-time process (when the test may make it one),
	// so the log measures commands, not the machine.
	b.redis.Own(t)
	if info, err := b.redis.Client.Info(ctx, "server").Result(); err == nil {
		for _, line := range strings.Split(info, "\n") {
			if pid, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
				if out, err := exec.Command("chrt", "-f", "-p", "10", pid).CombinedOutput(); err != nil {
					t.Logf("could not make Redis a real-time process (%v: %s): the slowlog may count the scheduler's delays", err, out)
				}
			}
		}
	}
	if err := b.redis.Client.ConfigSet(ctx, "slowlog-log-slower-than", "10000").Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.redis.Client.SlowLogReset(ctx).Err(); err != nil {
		t.Fatal(err)
	}

	// A dry run only counts.
	req := BulkRequest{Action: BulkReschedule, Shift: "2h", Filter: BulkFilter{States: []State{StateRunning}, Label: "keep"}, DryRun: true}
	dry, err := opClient.RunBulk(ctx, req, "tester", nil)
	if err != nil || dry.Matched != n*3/4 || dry.Done != 0 || dry.State != OperationDone {
		t.Fatalf("dry run: %+v %v", dry, err)
	}

	var idle []time.Duration
	for range 3 {
		idle = append(idle, b.attachTime())
	}
	req.DryRun = false
	op, err := opClient.StartBulk(ctx, req, "tester")
	if err != nil {
		t.Fatal(err)
	}
	var busy []time.Duration
	for range 3 {
		busy = append(busy, b.attachTime())
		if cur, _ := opClient.Operation(ctx, op.ID); cur.State != OperationRunning {
			t.Fatalf("the operation ended before the pipelines measured during it did (%+v): the test proves nothing", cur)
		}
	}
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cur, err := opClient.Operation(ctx, op.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.State != OperationRunning {
			op = cur
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still running after 5 minutes: %+v", cur)
		}
		time.Sleep(100 * time.Millisecond)
	}
	took := op.FinishedAt.Sub(op.StartedAt)
	t.Logf("operation: %+v in %s (%.0f pipelines/s)", *op, took.Round(time.Millisecond), float64(op.Matched)/took.Seconds())
	if op.State != OperationDone || op.Matched != n*3/4 || op.Done != n*3/4 || op.Failed != 0 || len(op.Skipped) != 0 {
		t.Errorf("counts: matched %d done %d failed %d skipped %v (%v); want %d matched and done", op.Matched, op.Done, op.Failed, op.Skipped, op.Errors, n*3/4)
	}
	// Every kept one moved by exactly 2h, every skipped one stayed.
	for _, i := range []int{0, 1, 2, 3, n - 2, n - 1} {
		rec, err := b.client.Get(ctx, PipelineID(fmt.Sprintf("bulk/%05d", i)))
		if err != nil {
			t.Fatal(err)
		}
		want := publishAt.Add(2 * time.Hour)
		if i%4 == 0 {
			want = publishAt
		}
		if got := *rec.Request.Post.PublishAt; !got.Equal(want) {
			t.Errorf("pipeline %d: publishAt %s, want %s", i, got, want)
		}
	}
	idleM, busyM := median(idle), median(busy)
	t.Logf("accepted → attached: idle %v (median %s), during the operation %v (median %s), ratio %.2f", idle, idleM, busy, busyM, float64(busyM)/float64(idleM))
	if busyM > 2*idleM {
		t.Errorf("during the operation a pipeline took %s to attach, over twice the idle %s", busyM, idleM)
	}
	slow, err := b.redis.Client.SlowLogGet(ctx, 128).Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range slow {
		if s.ClientName == "mediaflow-bulk" {
			t.Errorf("the operation ran a command for %s: %v", s.Duration, s.Args)
		} else {
			t.Logf("slowlog (not the operation's): %s %v from %q", s.Duration, s.Args, s.ClientName)
		}
	}
}

// A bulk action recorded on a pipeline whose tasks could not be enqueued
// (the sweep enqueues what the record plans) is done, as the API answers
// such a single action 202: counted failed, the operation told the
// caller the cancel did not happen, and a second run skipped it as
// finished.
func TestBulkCountsARecordedActionWhoseEnqueueFailedAsDone(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	id := b.publish(b.request(ActionPublishNow, "a.png")).ID
	// Tasks go to a Redis that is not there; records to the real one.
	c := NewClient(b.redis.Client, WithTiming(b.timing))
	t.Cleanup(func() { _ = c.Close() })
	dead := asynq.NewClient(asynq.RedisClientOpt{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond})
	c.enq = dead
	op, err := c.RunBulk(ctx, BulkRequest{Action: BulkCancel}, "tester", nil)
	if err != nil {
		t.Fatal(err)
	}
	if op.Matched != 1 || op.Done != 1 || op.Failed != 0 {
		t.Errorf("operation %+v; want the recorded cancel done", op)
	}
	if rec, err := b.client.Get(ctx, id); err != nil || !rec.CancelRequested {
		t.Fatalf("the cancel was not recorded: %v %s", err, dump(rec))
	}
}

package tasks

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
)

// A rolling upgrade: a record written by a worker of the layout before
// shards, and its v1 media:upload task still queued under the old task id.
// The new worker moves the record over, the sweep sees the old task and
// enqueues no second copy of the step, and the pipeline runs to the end
// with one media entry made.
func TestRollingUpgradeRunsEveryStepOnce(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.PendingKick = time.Minute
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) {
		c.timing, c.clock = timing, clock
		c.queues = map[string]int{QueueCleanup: 1} // nothing runs the upload yet
	})
	ctx := context.Background()
	r := handMade("rolling-upgrade", StatePending, clock.Now().Add(-time.Hour))
	r.Step = StepAccepted
	r.Request.Post.ProfileIDs = b.profiles[:1]
	r.fingerprint = r.Request.fingerprint()
	doc, err := json.Marshal(legacyRecord{Record: *r, Fingerprint: r.fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	rc := b.redis.Client
	score := float64(r.CreatedAt.UnixMilli())
	if err := rc.HSet(ctx, "mediaflow:{"+r.ID+"}:pipeline", "v", 3, "doc", doc).Err(); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"mediaflow:pipelines", "mediaflow:pipelines:pending", "mediaflow:pipelines:due"} {
		if err := rc.ZAdd(ctx, k, redisZ(score, r.ID)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	v1 := []byte(`{"v":1,"pipelineId":"` + r.ID + `","item":0,"generation":0,"poll":0}`)
	oldID, _ := legacyTaskID(TypeMediaUpload, Payload{PipelineID: r.ID})
	if _, err := b.client.enq.Enqueue(asynq.NewTask(TypeMediaUpload, v1), asynq.TaskID(oldID), asynq.Queue(QueuePipeline)); err != nil {
		t.Fatal(err)
	}

	clock.Advance(2 * time.Minute)
	first := b.sweepOnce(b.worker)
	clock.Advance(2 * time.Minute)
	second := b.sweepOnce(b.worker)
	if first.Migrated != 1 || second.Kicked != 0 || second.Refreshed != 1 {
		t.Fatalf("sweeps %+v then %+v; want the record migrated, then found waiting on its old task", first, second)
	}
	insp := asynq.NewInspectorFromRedisClient(rc)
	if pending, _ := insp.ListPendingTasks(QueuePipeline); len(pending) != 1 || pending[0].ID != oldID {
		t.Fatalf("pending tasks %v; want only the old upload", pending)
	}
	if n, _ := rc.Exists(ctx, "mediaflow:{"+r.ID+"}:pipeline").Result(); n != 0 {
		t.Fatal("the old record is still there after migration")
	}

	b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: timing, clock: clock})
	if rec := b.wait(r.ID); rec.State != StateSucceeded {
		t.Fatalf("ended %s", dump(rec))
	}
	if st := b.sb.Server.Stats(); st.Media.Created != 1 || st.Posts.Created != 1 {
		t.Fatalf("%d media and %d posts created; want 1 and 1", st.Media.Created, st.Posts.Created)
	}
	b.assertClean()
}

func redisZ(score float64, member string) redis.Z { return redis.Z{Score: score, Member: member} }

// An old-layout record this worker cannot read does not stop the
// migration of the others: the sweep moved old records over in the
// index's order and returned at the first that failed, which stays first,
// so no record behind it was ever moved by the sweep.
func TestSweepMigratesPastAnOldRecordItCannotRead(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) {
		c.clock = clock
		c.queues = map[string]int{QueueCleanup: 1}
	})
	ctx := context.Background()
	rc := b.redis.Client
	r := handMade("behind-a-bad-one", StateSucceeded, clock.Now().Add(-time.Hour))
	r.fingerprint = r.Request.fingerprint()
	doc, err := json.Marshal(legacyRecord{Record: *r, Fingerprint: r.fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	bad := PipelineID("unreadable-old-record")
	for i, rec := range []struct {
		id  string
		doc []byte
	}{{bad, []byte("{not json")}, {r.ID, doc}} {
		if err := rc.HSet(ctx, "mediaflow:{"+rec.id+"}:pipeline", "v", 3, "doc", rec.doc).Err(); err != nil {
			t.Fatal(err)
		}
		if err := rc.ZAdd(ctx, "mediaflow:pipelines", redisZ(float64(i+1), rec.id)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	res, err := b.worker.RunSweep(ctx)
	if res.Migrated != 1 {
		t.Fatalf("sweep %+v (%v); want the readable old record migrated", res, err)
	}
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("sweep error %v; want it to name the unreadable old record %s", err, bad)
	}
	if _, err := b.client.Get(ctx, r.ID); err != nil {
		t.Fatalf("the migrated record: %v", err)
	}
}

package tasks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/source"
)

// Issue 20, item 6: Redis full (noeviction at maxmemory) in the middle of
// a run, then freed. Each pipeline's upload is written; its confirm, run
// inline, reaches Swonkie just as Redis starts refusing writes, so neither
// its result nor its task can be written: the pipeline is left with no
// task at all ("could not hand on the next step; the sweep will"). The
// records were made by a client with the enqueue CLI's timing (a 5 minute
// kick); the worker's PENDING_KICK_AFTER is 1 minute. One sweep on the
// worker's clock, PENDING_KICK_AFTER after Redis took writes again, kicks
// every one of them, and they all succeed without another sweep.
func TestPipelinesFinishAfterRedisRefusedWrites(t *testing.T) {
	t.Parallel()
	const n = 8
	timing := testTiming
	timing.PendingKick, timing.StuckAfter = time.Minute, time.Hour
	clock := newFakeClock()
	b := setup(t, func(c *setupConfig) { c.noWorker, c.timing, c.clock = true, timing, clock })
	b.redis.Own(t)
	ctx := context.Background()

	// Confirms wait at the door until Redis is full.
	arrived, release := make(chan struct{}, n), make(chan struct{})
	gated := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch && strings.HasPrefix(r.URL.Path, "/v2/media/") {
			arrived <- struct{}{}
			<-release
		}
		b.sb.Server.ServeHTTP(w, r)
	}))
	t.Cleanup(gated.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	b.api = b.newAPIClient(gated.URL + "/v2")
	b.worker = b.startWorker(setupConfig{concurrency: n, sweep: "off", timing: timing, clock: clock})
	cli := NewClient(b.redis.Client, WithSourceCheck(b.sources.Check, source.Supported), WithoutPreflight()) // the CLI's timing
	t.Cleanup(func() { _ = cli.Close() })

	ids := make([]string, n)
	for i := range ids {
		req := b.request(ActionPublishNow, "a.png")
		req.Post.Caption = fmt.Sprintf("refused %d", i)
		rec, _, err := cli.Publish(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = rec.ID
	}
	for range n {
		select {
		case <-arrived:
		case <-time.After(30 * time.Second):
			t.Fatal("the confirms never reached Swonkie")
		}
	}

	ballast := fillRedis(t, b)
	close(release)
	defer func() {
		if t.Failed() {
			t.Log(b.logs.String())
		}
	}()
	eventually(t, "every confirm to fail to hand on", func() bool {
		return strings.Count(b.logs.String(), "could not hand on the next step") >= n
	})
	if err := b.redis.Client.Del(ctx, ballast...).Err(); err != nil {
		t.Fatalf("free Redis: %v", err)
	}
	freed := time.Now()
	// asynq finishes the uploads' bookkeeping on its own once it can write.
	insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
	eventually(t, "asynq to let go of the upload tasks", func() bool {
		q, err := insp.GetQueueInfo(QueuePipeline)
		return err == nil && q.Active == 0 && q.Pending == 0 && q.Scheduled == 0 && q.Retry == 0
	})
	for _, id := range ids {
		if rec, err := b.client.Get(ctx, id); err != nil || rec.State.Terminal() {
			t.Fatalf("pipeline %s before the sweep: %v %s", id, err, dump(rec))
		}
	}

	clock.Advance(freed.Add(timing.PendingKick).Sub(clock.Now()))
	if res := b.sweepOnce(b.worker); res.Kicked != n {
		t.Fatalf("one sweep PENDING_KICK_AFTER after Redis took writes again kicked %d of %d pipelines left with no task: %+v", res.Kicked, n, res)
	}
	for _, id := range ids {
		if rec := b.wait(id); rec.State != StateSucceeded {
			t.Fatalf("pipeline %s ended %s", id, dump(rec))
		}
	}
	b.assertClean()
}

// fillRedis lowers maxmemory to a little above what Redis holds, writes
// ballast until it refuses writes (noeviction, Redis's default), and
// returns the ballast's keys: deleting them frees it.
func fillRedis(t *testing.T, b *bundle) []string {
	t.Helper()
	ctx := context.Background()
	rc := b.redis.Client
	if policy, err := rc.ConfigGet(ctx, "maxmemory-policy").Result(); err != nil || policy["maxmemory-policy"] != "noeviction" {
		t.Fatalf("maxmemory-policy %v (%v), want noeviction", policy, err)
	}
	used, err := usedMemory(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used+(2<<20), 10)).Err(); err != nil {
		t.Fatal(err)
	}
	chunk := strings.Repeat("x", 64<<10)
	var keys []string
	for i := 0; ; i++ {
		key := fmt.Sprintf("test:ballast:%d", i)
		err := rc.Set(ctx, key, chunk, 0).Err()
		if err != nil {
			if !strings.Contains(err.Error(), "OOM") {
				t.Fatalf("filling Redis: %v", err)
			}
			// Full, and firmly so: the little asynq frees while it
			// fails must not let a write through now and then.
			if used, err = usedMemory(ctx, b); err != nil {
				t.Fatal(err)
			}
			if err := rc.ConfigSet(ctx, "maxmemory", strconv.FormatInt(used-(512<<10), 10)).Err(); err != nil {
				t.Fatal(err)
			}
			return keys
		}
		keys = append(keys, key)
		if i > 10000 {
			t.Fatal("Redis never refused a write")
		}
	}
}

func usedMemory(ctx context.Context, b *bundle) (int64, error) {
	nodes, err := rdb.Memory(ctx, b.redis.Client)
	if err != nil {
		return 0, err
	}
	return nodes[0].Used, nil
}

// eventually polls cond until it holds, or fails the test after 30 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

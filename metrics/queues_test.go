package metrics_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
)

// commandCounter counts every command a go-redis client sends, pipelined
// or not. It counts on the client rather than in INFO commandstats so the
// count is this test's alone even on a Redis shared through REDIS_URL.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

func TestWatchQueues(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	conn := asynq.RedisClientOpt{Addr: r.Addr, DB: r.DB}
	client := asynq.NewClient(conn)
	t.Cleanup(func() { _ = client.Close() })
	for range 3 {
		if _, err := client.Enqueue(asynq.NewTask("media:create", nil), asynq.Queue("default")); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := client.Enqueue(asynq.NewTask("cleanup:sweep", nil), asynq.Queue("low"), asynq.ProcessIn(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	admin := asynq.NewInspector(conn)
	t.Cleanup(func() { _ = admin.Close() })
	if err := admin.PauseQueue("low"); err != nil {
		t.Fatal(err)
	}

	rc := redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB})
	t.Cleanup(func() { _ = rc.Close() })
	counter := &commandCounter{}
	rc.AddHook(counter)
	insp := asynq.NewInspectorFromRedisClient(rc)

	m := metrics.New(metrics.Options{})
	// Only Start's first refresh runs within the test.
	p := m.WatchQueues(insp, time.Hour)
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 10*time.Second, func() bool { return value(t, m, "mediaflow_queue_stats_last_success_timestamp_seconds") > 0 })

	checks := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"mediaflow_queue_size", []string{"queue", "default"}, 3},
		{"mediaflow_queue_size", []string{"queue", "low"}, 2},
		{"mediaflow_queue_tasks", []string{"queue", "default", "state", "pending"}, 3},
		{"mediaflow_queue_tasks", []string{"queue", "default", "state", "scheduled"}, 0},
		{"mediaflow_queue_tasks", []string{"queue", "low", "state", "scheduled"}, 2},
		{"mediaflow_queue_tasks", []string{"queue", "low", "state", "archived"}, 0},
		{"mediaflow_queue_paused", []string{"queue", "default"}, 0},
		{"mediaflow_queue_paused", []string{"queue", "low"}, 1},
		{"mediaflow_queue_latency_seconds", []string{"queue", "low"}, 0},
	}
	for _, c := range checks {
		if !hasSeries(t, m, c.name, c.labels...) {
			t.Errorf("no series %s%v", c.name, c.labels)
			continue
		}
		if got := value(t, m, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	// asynq samples MEMORY USAGE of the queue's keys and tasks; a queue
	// holding tasks takes some.
	for _, q := range []string{"default", "low"} {
		if got := value(t, m, "mediaflow_queue_memory_bytes", "queue", q); got <= 0 {
			t.Errorf("queue_memory_bytes{%s} = %v with tasks in the queue, want > 0", q, got)
		}
	}
	if got := value(t, m, "mediaflow_queue_latency_seconds", "queue", "default"); got <= 0 {
		t.Errorf("queue_latency_seconds{default} = %v with 3 tasks pending, want > 0", got)
	}
	for _, state := range []string{"pending", "active", "scheduled", "retry", "archived", "completed", "aggregating"} {
		if !hasSeries(t, m, "mediaflow_queue_tasks", "queue", "default", "state", state) {
			t.Errorf("no mediaflow_queue_tasks series for state %s", state)
		}
	}

	// Scrapes are served from the cache: Redis sees nothing.
	before := counter.n.Load()
	for range 20 {
		scrape(t, m)
	}
	if got := counter.n.Load() - before; got != 0 {
		t.Errorf("20 scrapes sent %d Redis commands, want 0", got)
	}

	// What WatchQueues' comment says one refresh costs, now that the Lua
	// scripts are loaded: 1 + 3 round trips per queue.
	m2 := metrics.New(metrics.Options{})
	p2 := m2.WatchQueues(insp, time.Hour)
	before = counter.n.Load()
	p2.Start()
	waitFor(t, 10*time.Second, func() bool { return value(t, m2, "mediaflow_queue_stats_last_success_timestamp_seconds") > 0 })
	p2.Shutdown()
	if got, want := counter.n.Load()-before, int64(1+3*2); got != want {
		t.Errorf("one refresh of 2 queues sent %d commands, want %d", got, want)
	}
}

func TestWatchQueuesShutdownStopsPolling(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	client := asynq.NewClient(asynq.RedisClientOpt{Addr: r.Addr, DB: r.DB})
	t.Cleanup(func() { _ = client.Close() })
	if _, err := client.Enqueue(asynq.NewTask("media:create", nil)); err != nil {
		t.Fatal(err)
	}
	rc := redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB})
	t.Cleanup(func() { _ = rc.Close() })
	counter := &commandCounter{}
	rc.AddHook(counter)

	m := metrics.New(metrics.Options{})
	p := m.WatchQueues(asynq.NewInspectorFromRedisClient(rc), 10*time.Millisecond)
	p.Start()
	waitFor(t, 10*time.Second, func() bool { return counter.n.Load() >= 20 })
	p.Shutdown()
	// A refresh abandoned at Shutdown may still finish its few commands,
	// later than usual on a loaded machine: wait until none came for 100 ms
	// (the loop polled every 10 ms).
	stopped := counter.n.Load()
	for deadline := time.Now().Add(5 * time.Second); ; stopped = counter.n.Load() {
		time.Sleep(100 * time.Millisecond)
		if counter.n.Load() == stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis commands still coming 5 s after Shutdown (%d so far)", counter.n.Load())
		}
	}
	time.Sleep(200 * time.Millisecond)
	if got := counter.n.Load() - stopped; got != 0 {
		t.Errorf("%d Redis commands after Shutdown", got)
	}
}

// fakeInspector fails for one queue, to show a bad queue keeps its last
// values without blanking the others.
type fakeInspector struct {
	queues []string
	fail   atomic.Bool
	size   atomic.Int64
}

func (f *fakeInspector) Queues() ([]string, error) { return f.queues, nil }

func (f *fakeInspector) GetQueueInfo(q string) (*asynq.QueueInfo, error) {
	if q == "bad" && f.fail.Load() {
		return nil, context.DeadlineExceeded
	}
	n := f.size.Load()
	return &asynq.QueueInfo{Queue: q, Size: int(n), Pending: int(n), MemoryUsage: 1000 * n}, nil
}

func TestWatchQueuesPartialFailure(t *testing.T) {
	t.Parallel()
	f := &fakeInspector{queues: []string{"bad", "default"}}
	f.size.Store(1)
	m := metrics.New(metrics.Options{})
	p := m.WatchQueues(f, 10*time.Millisecond)
	p.Start()
	t.Cleanup(p.Shutdown)
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_queue_size", "queue", "bad") == 1 })

	f.fail.Store(true)
	f.size.Store(7)
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_queue_size", "queue", "default") == 7 })
	waitFor(t, 5*time.Second, func() bool { return value(t, m, "mediaflow_queue_stats_errors_total") >= 1 })
	if got := value(t, m, "mediaflow_queue_size", "queue", "bad"); got != 1 {
		t.Errorf("queue_size{bad} = %v while it cannot be read, want its last value 1", got)
	}
	// MemoryUsage is exported as is, and kept like the rest for a bad queue.
	if got := value(t, m, "mediaflow_queue_memory_bytes", "queue", "default"); got != 7000 {
		t.Errorf("queue_memory_bytes{default} = %v, want QueueInfo.MemoryUsage 7000", got)
	}
	if got := value(t, m, "mediaflow_queue_memory_bytes", "queue", "bad"); got != 1000 {
		t.Errorf("queue_memory_bytes{bad} = %v while it cannot be read, want its last value 1000", got)
	}
}

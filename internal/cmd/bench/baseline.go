package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/tasks"
)

// chainStep is one task of the chain a single-media publishNow pipeline
// runs when nothing fails and the sandbox answers at once: the baseline
// replays it with handlers that do nothing but enqueue the next task.
type chainStep struct {
	typ     string
	queue   string
	timeout time.Duration
	// delay is the ProcessIn the step is enqueued with (post:watch waits
	// WatchFirst before its first look).
	delay time.Duration
	// calls is how many Swonkie API calls the step makes (the upload to
	// storage apart, which the sandbox does not delay): with -latency the
	// baseline's handler sleeps that many latencies.
	calls int
}

// enqueue hands the step's task to asynq with mediaflow's options: a task
// id per pipeline and step, its queue, retry budget, timeout and delay.
func (s chainStep) enqueue(ctx context.Context, enq *asynq.Client, id string, payload any, maxRetry int) error {
	b, err := json.Marshal(payload)
	if err != nil {
		return err
	}
	opts := []asynq.Option{
		asynq.TaskID("mf:" + id + ":" + s.typ + ":0:0"),
		asynq.Queue(s.queue),
		asynq.MaxRetry(maxRetry),
		asynq.Timeout(s.timeout),
	}
	if s.delay > 0 {
		opts = append(opts, asynq.ProcessIn(s.delay))
	}
	_, err = enq.EnqueueContext(ctx, asynq.NewTask(s.typ, b), opts...)
	return err
}

func pipelineChain(t tasks.Timing) []chainStep {
	return []chainStep{
		{tasks.TypePreflight, tasks.QueuePipeline, t.StepTimeout, 0, 0},            // probe, rules (the profile directory is fetched once a run)
		{tasks.TypeMediaUpload, tasks.QueuePipeline, t.UploadTimeout, 0, 1},        // create
		{tasks.TypeMediaConfirm, tasks.QueuePipeline, t.StepTimeout, 0, 2},         // confirm, look
		{tasks.TypePostAttach, tasks.QueuePipeline, t.StepTimeout, 0, 4},           // create post, validate, publishNow, read its stage
		{tasks.TypePostWatch, tasks.QueuePipeline, t.StepTimeout, t.WatchFirst, 1}, // read post
		{tasks.TypeMediaCleanup, tasks.QueueCleanup, t.StepTimeout, 0, 1},          // delete media
	}
}

func chainCalls(chain []chainStep) int {
	n := 0
	for _, s := range chain {
		n += s.calls
	}
	return n
}

type baselineResult struct {
	concurrency   int
	latency       time.Duration
	chains, tasks int
	elapsed       time.Duration
	cmds          cmdDelta
	cpu, redisCPU time.Duration
	machineBusy   float64 // share of the machine's CPU busy, every process included
	apiCalls      int     // Swonkie API calls, uploads apart (plain chain only)
	problems      []string
}

// workerQueues is cmd/worker's default -queues (mediaflow=6,
// mediaflow-cleanup=1): every asynq server of the benchmark polls these.
var workerQueues = map[string]int{tasks.QueuePipeline: 6, tasks.QueueCleanup: 1}

func (r baselineResult) tasksPerSec() float64 { return float64(r.tasks) / r.elapsed.Seconds() }

func (r baselineResult) cmdsPerTask() float64 { return float64(r.cmds.total()) / float64(r.tasks) }

// runBaseline runs n chains through an asynq server configured like the
// worker (concurrency, queues and weights, poll and forwarder intervals)
// whose handlers do nothing but decode the payload, sleep calls × latency
// (nothing when latency is 0) and enqueue the next step with a task id,
// the way mediaflow chains.
func runBaseline(ctx context.Context, rc redis.UniversalClient, o options, n, concurrency int, latency time.Duration) (baselineResult, error) {
	chain := pipelineChain(o.timing)
	enq := asynq.NewClientFromRedisClient(rc)
	defer enq.Close()

	var executed atomic.Int64
	var done atomic.Int64
	finished := make(chan time.Time, 1)
	enqueue := func(ctx context.Context, i int, pl tasks.Payload) error {
		return chain[i].enqueue(ctx, enq, pl.PipelineID, pl, o.timing.MaxRetry)
	}
	mux := asynq.NewServeMux()
	for i, s := range chain {
		mux.HandleFunc(s.typ, func(ctx context.Context, t *asynq.Task) error {
			executed.Add(1)
			if latency > 0 {
				time.Sleep(time.Duration(s.calls) * latency)
			}
			var pl tasks.Payload
			if err := json.Unmarshal(t.Payload(), &pl); err != nil {
				return err
			}
			if i+1 < len(chain) {
				return enqueue(ctx, i+1, pl)
			}
			if done.Add(1) == int64(n) {
				finished <- time.Now()
			}
			return nil
		})
	}
	srv, err := startChainServer(rc, concurrency, o, mux)
	if err != nil {
		return baselineResult{}, err
	}
	defer srv.Shutdown()

	before, err := snapRedis(ctx, rc)
	if err != nil {
		return baselineResult{}, err
	}
	cpu0 := cpuTime()
	busy0, total0 := machineCPU()
	start := time.Now()
	err = fanOut(o.publishers, n, func(int) error {
		return enqueue(ctx, 0, tasks.Payload{V: tasks.PayloadVersion, PipelineID: uuid.Must(uuid.NewV7()).String()})
	})
	if err != nil {
		return baselineResult{}, fmt.Errorf("enqueue the first tasks: %w", err)
	}
	var end time.Time
	select {
	case end = <-finished:
	case <-time.After(o.timeout):
		return baselineResult{}, fmt.Errorf("baseline: %d of %d chains done after %s", done.Load(), n, o.timeout)
	}
	cpu := cpuTime() - cpu0
	busy1, total1 := machineCPU()
	// Let asynq mark the last tasks done before counting its commands.
	time.Sleep(settle)
	after, err := snapRedis(ctx, rc)
	if err != nil {
		return baselineResult{}, err
	}
	return baselineResult{
		concurrency: concurrency, latency: latency,
		chains: n, tasks: int(executed.Load()), elapsed: end.Sub(start),
		cmds: after.since(before), cpu: cpu, redisCPU: after.cpu - before.cpu,
		machineBusy: share(busy1-busy0, total1-total0),
	}, nil
}

func share(part, whole time.Duration) float64 {
	if whole <= 0 {
		return 0
	}
	return float64(part) / float64(whole)
}

// settle is how long a phase waits after its last step before Redis is
// counted, so the last tasks' completion is in the count.
const settle = 300 * time.Millisecond

// fanOut calls fn(0..n-1) from workers goroutines and returns the first
// error.
func fanOut(workers, n int, fn func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := fn(i); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// quietLogger keeps asynq's start and stop lines out of the report.
type quietLogger struct{}

func (quietLogger) Debug(...any) {}
func (quietLogger) Info(...any)  {}
func (quietLogger) Warn(...any)  {}
func (quietLogger) Error(...any) {}
func (quietLogger) Fatal(...any) {}

// startChainServer starts the asynq server both baselines run their
// chains on: the worker's queues and timers, and no logging.
func startChainServer(rc redis.UniversalClient, concurrency int, o options, mux *asynq.ServeMux) (*asynq.Server, error) {
	srv := asynq.NewServerFromRedisClient(rc, asynq.Config{
		Concurrency:              concurrency,
		Queues:                   workerQueues,
		TaskCheckInterval:        o.poll,
		DelayedTaskCheckInterval: o.delayedCheck,
		ShutdownTimeout:          5 * time.Second,
		Logger:                   quietLogger{},
		LogLevel:                 asynq.ErrorLevel,
	})
	if err := srv.Start(mux); err != nil {
		return nil, fmt.Errorf("start asynq server: %w", err)
	}
	return srv, nil
}

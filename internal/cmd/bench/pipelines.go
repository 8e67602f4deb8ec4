package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

const (
	sandboxID  = "mediaflow-bench"
	sandboxKey = "mediaflow-bench-key"
)

// stack is a worker wired the way cmd/worker wires it (metrics on, the
// instrumented API client, the Go client with the same source checks),
// against an in-process sandbox on a local port.
type stack struct {
	sb       *sandbox.Server
	conns    *countingListener
	deletes  atomic.Int64
	http     *http.Server
	metrics  *metrics.Metrics
	client   *tasks.Client
	worker   *tasks.Worker
	profiles []string
}

func startStack(rc redis.UniversalClient, o options, concurrency int, latency time.Duration) (*stack, error) {
	sb, err := sandbox.New(sandbox.Options{APIID: sandboxID, APIKey: sandboxKey, Seed: 1, Latency: latency})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	st := &stack{sb: sb, conns: &countingListener{Listener: l}}
	st.http = &http.Server{Handler: st.countDeletes(sb), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = st.http.Serve(st.conns) }()
	st.profiles = postProfiles(sb)
	st.metrics = metrics.New(metrics.Options{Version: "bench"})
	api, err := swonkie.New(swonkie.Config{
		BaseURL: "http://" + l.Addr().String() + "/v2", APIID: sandboxID, APIKey: sandboxKey,
		UserAgent: "mediaflow-bench",
		// The sandbox does not rate limit; pacing would measure the limit,
		// not mediaflow.
		RateLimit: rate.Inf,
		MaxConns:  concurrency, Instrument: st.metrics.InstrumentTransport,
		TracerProvider: o.tracing,
	})
	if err != nil {
		st.close()
		return nil, err
	}
	sources, err := source.New(source.Config{Root: o.mediaRoot})
	if err != nil {
		st.close()
		return nil, err
	}
	copts := []tasks.ClientOption{tasks.WithSources(sources), tasks.WithTiming(o.timing), tasks.WithTracerProvider(o.tracing)}
	if o.noPreflight {
		copts = append(copts, tasks.WithoutPreflight())
	}
	st.client = tasks.NewClient(rc, copts...)
	st.worker, err = tasks.NewWorker(tasks.WorkerConfig{
		Redis:                rc,
		API:                  api,
		Sources:              sources,
		Metrics:              st.metrics,
		Logger:               zerolog.New(io.Discard).Level(zerolog.InfoLevel).With().Timestamp().Logger(),
		Concurrency:          concurrency,
		Queues:               workerQueues,
		PollInterval:         o.poll,
		DelayedCheckInterval: o.delayedCheck,
		Timing:               o.timing,
		TracerProvider:       o.tracing,
	})
	if err != nil {
		st.close()
		return nil, err
	}
	if err := st.worker.Start(); err != nil {
		st.worker = nil
		st.close()
		return nil, err
	}
	return st, nil
}

// countDeletes counts DELETE /media calls: every pipeline's cleanup makes
// one just before it finishes, so waiting for them first keeps the
// benchmark from gathering the metrics registry (a millisecond of CPU
// each time) while the pipelines run.
func (st *stack) countDeletes(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/media/") {
			st.deletes.Add(1)
		}
	})
}

// postProfiles are the two profiles every benchmark post goes to: healthy
// ones that take its PNG (Instagram takes JPEG only, and pre-flight says
// so before anything is created).
func postProfiles(sb *sandbox.Server) []string {
	var out []string
	for _, p := range sb.Profiles() {
		if p.StatusLevel == swonkie.StatusOK && p.Net.Code != "instagram" {
			out = append(out, p.ID)
		}
	}
	return out
}

// countingListener counts the connections the sandbox accepts, to show
// whether the worker's HTTP client reuses them.
type countingListener struct {
	net.Listener
	n atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

func (st *stack) close() {
	if st.worker != nil {
		st.worker.Shutdown()
	}
	if st.client != nil {
		_ = st.client.Close()
	}
	_ = st.http.Close()
}

func (st *stack) request(o options, n int) tasks.Request {
	return tasks.Request{
		Media:  []tasks.MediaSource{{Source: o.mediaFile}},
		Post:   &tasks.PostSpec{ProfileIDs: st.profiles[:2], Caption: fmt.Sprintf("mediaflow bench post %d", n)},
		Action: tasks.ActionPublishNow,
	}
}

// counter sums a metric family over every label set.
func (st *stack) counter(name string, keep func(labels map[string]string) bool) float64 {
	return counterSum(st.metrics, name, keep)
}

// counterSum sums a metric family of m over the label sets keep keeps
// (all, when nil).
func counterSum(m *metrics.Metrics, name string, keep func(labels map[string]string) bool) float64 {
	families, err := m.Registry().Gather()
	if err != nil {
		return 0
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if keep != nil && !keep(labels) {
				continue
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// taskTimes is the mean handler time of each task type.
func (st *stack) taskTimes() map[string]time.Duration {
	out := map[string]time.Duration{}
	families, _ := st.metrics.Registry().Gather()
	for _, f := range families {
		if f.GetName() != "mediaflow_task_duration_seconds" {
			continue
		}
		for _, m := range f.GetMetric() {
			h := m.GetHistogram()
			if h.GetSampleCount() == 0 {
				continue
			}
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "type" {
					out[lp.GetValue()] = time.Duration(h.GetSampleSum() / float64(h.GetSampleCount()) * float64(time.Second))
				}
			}
		}
	}
	return out
}

func (st *stack) finished() int { return int(st.counter("mediaflow_pipelines_finished_total", nil)) }

// steps counts the pipeline tasks run (the sweep is not a step).
func (st *stack) steps() (int, map[string]int) {
	byType := map[string]int{}
	total := 0
	families, _ := st.metrics.Registry().Gather()
	for _, f := range families {
		if f.GetName() != "mediaflow_tasks_processed_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			typ := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "type" {
					typ = lp.GetValue()
				}
			}
			if typ == tasks.TypeCleanupSweep {
				continue
			}
			n := int(m.GetCounter().GetValue())
			if n > 0 {
				byType[typ] += n
				total += n
			}
		}
	}
	return total, byType
}

// apiCalls counts Swonkie API calls (uploads to storage apart, and the
// profile directory pre-flight fetches once a run, not once a pipeline).
func (st *stack) apiCalls() int {
	return int(st.counter("mediaflow_swonkie_requests_total", func(l map[string]string) bool {
		return l["endpoint"] != swonkie.UploadEndpoint && l["endpoint"] != "/profiles"
	}))
}

type pipelineResult struct {
	concurrency int
	latency     time.Duration
	pipelines   int
	steps       int
	byType      map[string]int
	taskTimes   map[string]time.Duration
	apiCalls    int
	conns       int64
	recordBytes int // JSON size of a finished record, public view
	// redisBytes is what the run left in Redis (used_memory after ÷
	// before): n finished publications, and keyBytes what MEMORY USAGE
	// says of one record's keys.
	redisBytes  int64
	keyBytes    map[string]int64
	elapsed     time.Duration
	cmds        cmdDelta
	cpu         time.Duration
	redisCPU    time.Duration
	machineBusy float64
	schedP50    time.Duration // how long runnable goroutines waited for a CPU
	schedP99    time.Duration
	attached    []time.Duration // accept → attached, sorted
	succeeded   int
	peakRSS     float64
	allocBytes  uint64
	problems    []string
}

// handlerTime is the time one pipeline's steps held worker slots: the sum
// over its task types of the mean handler time times the tasks per
// pipeline.
func (r pipelineResult) handlerTime() time.Duration {
	var d time.Duration
	for typ, mean := range r.taskTimes {
		d += time.Duration(float64(mean) * float64(r.byType[typ]) / float64(r.pipelines))
	}
	return d
}

func (r pipelineResult) pipelinesPerSec() float64 { return float64(r.pipelines) / r.elapsed.Seconds() }
func (r pipelineResult) stepsPerSec() float64     { return float64(r.steps) / r.elapsed.Seconds() }
func (r pipelineResult) cmdsPerPipeline() float64 {
	return float64(r.cmds.total()) / float64(r.pipelines)
}

// runPipelines publishes n single-media pipelines at once and waits until
// every one of them has finished.
func runPipelines(ctx context.Context, rc redis.UniversalClient, o options, n, concurrency int, latency time.Duration, profile func() func()) (pipelineResult, error) {
	st, err := startStack(rc, o, concurrency, latency)
	if err != nil {
		return pipelineResult{}, err
	}
	defer st.close()
	res := pipelineResult{concurrency: concurrency, latency: latency, pipelines: n}
	rssOK := resetPeakRSS()
	var ms0 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	stop := profile()
	before, err := snapRedis(ctx, rc)
	if err != nil {
		return res, err
	}
	mem0, err := usedMemory(ctx, rc)
	if err != nil {
		return res, err
	}
	cpu0 := cpuTime()
	busy0, total0 := machineCPU()
	sched0 := snapSched()
	ids := make([]string, n)
	start := time.Now()
	err = fanOut(o.publishers, n, func(i int) error {
		rec, _, err := st.client.Publish(ctx, st.request(o, i))
		if err != nil {
			return err
		}
		ids[i] = rec.ID
		return nil
	})
	if err != nil {
		stop()
		return res, fmt.Errorf("publish: %w", err)
	}
	var end time.Time
	deadline := time.Now().Add(o.timeout)
	for i := 0; ; i++ {
		// A pipeline that fails before it has media to delete makes no
		// DELETE: look at the registry every 200ms as well.
		if (st.deletes.Load() >= int64(n) || i%40 == 39) && st.finished() >= n {
			end = time.Now()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return res, fmt.Errorf("%d of %d pipelines finished after %s", st.finished(), n, o.timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.cpu = cpuTime() - cpu0
	busy1, total1 := machineCPU()
	res.machineBusy = share(busy1-busy0, total1-total0)
	sched1 := snapSched()
	res.schedP50, res.schedP99 = sched1.quantile(sched0, 0.5), sched1.quantile(sched0, 0.99)
	time.Sleep(settle)
	after, err := snapRedis(ctx, rc)
	stop()
	if err != nil {
		return res, err
	}
	mem1, err := usedMemory(ctx, rc)
	if err != nil {
		return res, err
	}
	res.redisBytes = mem1 - mem0
	if res.keyBytes, err = keyBytes(ctx, rc, ids[0]); err != nil {
		return res, err
	}
	var ms1 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	res.allocBytes = ms1.TotalAlloc - ms0.TotalAlloc
	if rssOK {
		res.peakRSS = peakRSS()
	}
	res.elapsed = end.Sub(start)
	res.cmds = after.since(before)
	res.redisCPU = after.cpu - before.cpu
	res.steps, res.byType = st.steps()
	res.taskTimes = st.taskTimes()
	res.apiCalls = st.apiCalls()
	res.conns = st.conns.n.Load()
	res.attached, res.succeeded, err = attachLatencies(ctx, st.client, ids)
	if err != nil {
		return res, err
	}
	if rec, err := st.client.Get(ctx, ids[0]); err == nil {
		b, _ := json.Marshal(rec)
		res.recordBytes = len(b)
	}
	res.problems = st.problems(n, res.succeeded)
	return res, nil
}

// attachLatencies reads accept → attached from the records themselves
// (CreatedAt → AttachedAt), so how often the benchmark looks does not
// change the figures.
func attachLatencies(ctx context.Context, c *tasks.Client, ids []string) ([]time.Duration, int, error) {
	var mu sync.Mutex
	var lat []time.Duration
	succeeded := 0
	err := fanOut(8, len(ids), func(i int) error {
		rec, err := c.Get(ctx, ids[i])
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if rec.State == tasks.StateSucceeded {
			succeeded++
		}
		if rec.AttachedAt != nil {
			lat = append(lat, rec.AttachedAt.Sub(rec.CreatedAt))
		}
		return nil
	})
	slices.Sort(lat)
	return lat, succeeded, err
}

// problems lists what would make the run's figures a lie: pipelines that
// did not succeed, media left on the sandbox, duplicate posts.
func (st *stack) problems(n, succeeded int) []string {
	var p []string
	if succeeded != n {
		p = append(p, fmt.Sprintf("%d of %d pipelines did not succeed", n-succeeded, n))
	}
	s := st.sb.Stats()
	if len(s.Media.Orphaned) > 0 {
		p = append(p, fmt.Sprintf("%d media left on the sandbox", len(s.Media.Orphaned)))
	}
	if d := s.Posts.DuplicatePosts(); d > 0 {
		p = append(p, fmt.Sprintf("%d duplicate posts", d))
	}
	if len(s.Violations) > 0 {
		p = append(p, fmt.Sprintf("%d client violations", len(s.Violations)))
	}
	return p
}

// idleResult is the idle phase: a worker at its default settings.
type idleResult struct {
	attached []time.Duration // accept → attached, sorted
	window   time.Duration   // how long the idle worker was counted
	cmds     cmdDelta        // Redis commands in that window
	cpu      time.Duration   // this process's CPU in that window
}

func (r idleResult) cmdsPerSec() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.cmds.total()) / r.window.Seconds()
}

// defaultPoll is tasks.WorkerConfig's default PollInterval.
const defaultPoll = tasks.DefaultPollInterval

// runIdle starts a worker at its default settings (poll interval,
// forwarder interval, timing, stats pollers, sweep schedule: what
// cmd/worker runs with when nothing is set), counts the Redis commands it
// costs while it has nothing to do, then publishes m pipelines one at a
// time, each once the previous one is attached, after a random pause that
// keeps them from lining up with the worker's polls: accept → attached
// with nothing else to do.
func runIdle(ctx context.Context, rc redis.UniversalClient, o options, m int) (idleResult, error) {
	var res idleResult
	d := o
	d.poll, d.delayedCheck, d.timing = 0, 0, tasks.DefaultTiming
	st, err := startStack(rc, d, o.workers, 0)
	if err != nil {
		return res, err
	}
	defer st.close()
	if o.idleWindow > 0 {
		// Past the start: the server's registration and the pollers'
		// first look are not what an idle worker costs per second.
		time.Sleep(time.Second)
		before, err := snapRedis(ctx, rc)
		if err != nil {
			return res, err
		}
		cpu0 := cpuTime()
		start := time.Now()
		time.Sleep(o.idleWindow)
		after, err := snapRedis(ctx, rc)
		if err != nil {
			return res, err
		}
		res.window, res.cmds, res.cpu = time.Since(start), after.since(before), cpuTime()-cpu0
	}
	ids := make([]string, 0, m)
	for i := range m {
		rec, _, err := st.client.Publish(ctx, st.request(o, i))
		if err != nil {
			return res, err
		}
		ids = append(ids, rec.ID)
		deadline := time.Now().Add(30 * time.Second)
		for {
			r, err := st.client.Get(ctx, rec.ID)
			if err != nil {
				return res, err
			}
			if r.AttachedAt != nil || r.State.Terminal() {
				break
			}
			if time.Now().After(deadline) {
				return res, errors.New("idle pipeline not attached after 30s")
			}
			time.Sleep(2 * time.Millisecond)
		}
		time.Sleep(time.Duration(rand.N(int64(defaultPoll))))
	}
	res.attached, _, err = attachLatencies(ctx, st.client, ids)
	return res, err
}

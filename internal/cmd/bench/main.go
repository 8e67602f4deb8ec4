// Command bench measures mediaflow's pipeline throughput against asynq's own
// ceiling, in one process and against one redis-server it starts itself:
//
//  1. asynq baseline: as many chains of no-op tasks as there are pipelines
//     below, each chain the task types, queues, options and delays a
//     pipeline runs, each handler enqueuing the next step with a task id;
//  2. plain asynq chain: the same publications as one asynq task per step,
//     each handler making the step's Swonkie calls with the same client
//     against the same sandbox and enqueueing the next, no record;
//  3. mediaflow: N single-media publishNow pipelines through tasks.Worker
//     and tasks.Client, wired as cmd/worker wires them (metrics on),
//     against the in-process sandbox with no added latency;
//  4. idle, at the worker's default settings: the Redis commands an idle
//     worker costs per second, then pipelines one at a time, accept →
//     attached;
//  5. tracing and pre-flight, each off then on in alternating rounds: the
//     CPU they add per pipeline (tracing.go, preflight.go);
//  6. with -latency, once per -concurrency value: the baseline with each
//     handler sleeping as long as its step's API calls, then phase 3 with
//     that API latency.
//
// Phases 1-3 get the same asynq settings. Their defaults keep timers out of
// the way (post:watch looks at once, the forwarder runs every 100ms) so
// both are bound by work rather than by waiting.
//
// It prints a table, then one JSON object as its last line. See
// docs/benchmarks.md for what each figure means and the measured results.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/redisserver"
	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/tasks"
)

type options struct {
	pipelines    int
	workers      int
	poll         time.Duration
	delayedCheck time.Duration
	timing       tasks.Timing
	idle         int
	idleWindow   time.Duration
	latency      time.Duration
	levels       []int
	perLevel     int
	fileSize     int
	publishers   int
	timeout      time.Duration
	cpuProfile   string
	plainProfile string
	memProfile   string
	profileAt    int
	mediaRoot    string
	mediaFile    string
	// tr is the tracing phase's (tracing.go); tracing is where a run's
	// spans go, nil for tracing off.
	tr      tracingOptions
	tracing trace.TracerProvider
	scale   scaleOptions
	// pf is the pre-flight phase's (preflight.go); noPreflight starts a
	// run's pipelines at their uploads.
	pf          preflightOptions
	noPreflight bool
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (options, error) {
	o := options{timing: tasks.DefaultTiming}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.pipelines, "n", 2000, "pipelines in the throughput run (and chains in the asynq baseline)")
	fs.IntVar(&o.workers, "workers", 20, "worker concurrency of the baseline, throughput and idle runs (cmd/worker's default)")
	fs.DurationVar(&o.poll, "poll", tasks.DefaultPollInterval, "asynq TaskCheckInterval, both sides (the worker's default)")
	fs.DurationVar(&o.delayedCheck, "delayed-check", 100*time.Millisecond, "asynq DelayedTaskCheckInterval, both sides (the worker's default is 1s)")
	fs.DurationVar(&o.timing.WatchFirst, "watch-first", time.Millisecond, "delay before post:watch's first look, both sides (the worker's default is 2s)")
	fs.IntVar(&o.idle, "idle", 30, "pipelines run one at a time, at the worker's default settings, for the idle accept → attached latency")
	fs.DurationVar(&o.idleWindow, "idle-window", 15*time.Second, "how long the Redis commands of an idle worker at its default settings are counted (the stats pollers run every 15s); 0 skips it")
	fs.DurationVar(&o.latency, "latency", 0, "simulated API latency of the scaling runs; 0 skips them")
	levels := fs.String("concurrency", "50,100,200,400", "worker concurrency of each scaling run (with -latency)")
	fs.IntVar(&o.perLevel, "latency-n", 0, "pipelines per scaling run; 0 means 10 per unit of concurrency")
	fs.IntVar(&o.fileSize, "file-size", 256<<10, "bytes of the image every pipeline uploads")
	fs.IntVar(&o.publishers, "publishers", 4, "goroutines publishing pipelines (and enqueuing the baseline's first tasks)")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a run after this long")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the whole process during the throughput run (or -profile-at) to this file")
	fs.StringVar(&o.plainProfile, "plain-cpuprofile", "", "write a CPU profile of the whole process during the plain asynq chain's run to this file")
	fs.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile (allocs, cumulative) after the throughput run (or -profile-at) to this file")
	fs.IntVar(&o.profileAt, "profile-at", 0, "profile the scaling run at this concurrency instead of the throughput run")
	tracingFlags(fs, &o.tr)
	preflightFlags(fs, &o.pf)
	scaleFlags(fs, &o.scale)
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	for _, f := range strings.Split(*levels, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || c < 1 {
			return o, fmt.Errorf("-concurrency %q: want a comma-separated list of positive integers", *levels)
		}
		o.levels = append(o.levels, c)
	}
	if o.pipelines < 1 || o.workers < 1 || o.publishers < 1 || o.fileSize < 1024 || o.idle < 0 || o.idleWindow < 0 {
		return o, errors.New("-n, -workers and -publishers must be positive, -file-size at least 1024, -idle and -idle-window not negative")
	}
	return o, nil
}

func run(args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "mediaflow-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	o.mediaRoot = filepath.Join(dir, "media")
	o.mediaFile = filepath.Join(o.mediaRoot, "bench.png")
	if err := writeImage(o.mediaFile, o.fileSize); err != nil {
		return err
	}
	srv, err := redisserver.Start(dir)
	if errors.Is(err, redisserver.ErrNotInstalled) {
		return errors.New("redis-server is not in PATH: install Redis 6.2 or newer (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)")
	}
	if err != nil {
		return err
	}
	defer srv.Kill()
	// The client cmd/worker makes from REDIS_URL, pool size included.
	rc, err := redisurl.NewClient(srv.URL)
	if err != nil {
		return err
	}
	defer rc.Close()

	progress := func(format string, args ...any) { fmt.Fprintf(stderr, "bench: "+format+"\n", args...) }
	flush := func() error { return rc.FlushAll(ctx).Err() }
	noProfile := func() func() { return func() {} }

	rep := report{opts: o, machine: describeMachine(ctx, rc, srv)}
	if o.scale.on {
		if rep.scale, err = runScale(ctx, rc, o, progress); err != nil {
			return err
		}
		rep.peakRSS = peakRSSLifetime()
		rep.printScale(stdout)
		return nil
	}
	progress("asynq baseline: %d chains of %d no-op tasks, concurrency %d", o.pipelines, len(pipelineChain(o.timing)), o.workers)
	if rep.baseline, err = runBaseline(ctx, rc, o, o.pipelines, o.workers, 0); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	progress("plain asynq chain: %d chains of %d tasks making mediaflow's Swonkie calls, concurrency %d", o.pipelines, len(pipelineChain(o.timing)), o.workers)
	plainProf := noProfile
	if o.plainProfile != "" {
		p := o
		p.cpuProfile, p.memProfile = o.plainProfile, ""
		plainProf = profiler(p)
	}
	if rep.plain, err = runPlain(ctx, rc, o, o.pipelines, o.workers, plainProf); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	progress("mediaflow: %d pipelines, concurrency %d, no API latency", o.pipelines, o.workers)
	prof := profiler(o)
	if o.profileAt > 0 {
		prof = noProfile
	}
	if rep.mediaflow, err = runPipelines(ctx, rc, o, o.pipelines, o.workers, 0, prof); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	progress("pending: %d pipelines accepted with no worker running, Redis memory", o.pipelines)
	if rep.pending, err = measurePending(ctx, rc, o, o.pipelines); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	if o.idle > 0 {
		progress("idle: a worker at its default settings, %s of nothing to do, then %d pipelines one at a time", o.idleWindow, o.idle)
		if rep.idle, err = runIdle(ctx, rc, o, o.idle); err != nil {
			return err
		}
		if err := flush(); err != nil {
			return err
		}
	}
	if o.tr.rounds > 0 {
		if rep.tracing, err = runTracing(ctx, rc, o, progress, flush); err != nil {
			return err
		}
	}
	if o.pf.rounds > 0 {
		if rep.preflight, err = runPreflight(ctx, rc, o, progress, flush); err != nil {
			return err
		}
	}
	if o.latency > 0 {
		for _, c := range o.levels {
			n := o.perLevel
			if n <= 0 {
				n = max(200, 10*c)
			}
			progress("scaling: asynq, %d chains sleeping as long as the API calls, concurrency %d", n, c)
			b, err := runBaseline(ctx, rc, o, n, c, o.latency)
			if err != nil {
				return err
			}
			if err := flush(); err != nil {
				return err
			}
			progress("scaling: mediaflow, %d pipelines, concurrency %d, API latency %s", n, c, o.latency)
			prof := noProfile
			if c == o.profileAt {
				prof = profiler(o)
			}
			r, err := runPipelines(ctx, rc, o, n, c, o.latency, prof)
			if err != nil {
				return err
			}
			rep.scaling = append(rep.scaling, scalingRun{asynq: b, mediaflow: r})
			if err := flush(); err != nil {
				return err
			}
		}
	}
	rep.peakRSS = peakRSSLifetime()
	rep.print(stdout)
	return nil
}

// profiler starts the CPU profile (when asked) and returns what stops it
// and writes the allocation profile.
func profiler(o options) func() func() {
	return func() func() {
		var cpu *os.File
		if o.cpuProfile != "" {
			f, err := os.Create(o.cpuProfile)
			if err == nil && pprof.StartCPUProfile(f) == nil {
				cpu = f
			}
		}
		return func() {
			if cpu != nil {
				pprof.StopCPUProfile()
				_ = cpu.Close()
				cpu = nil
			}
			if o.memProfile != "" {
				if f, err := os.Create(o.memProfile); err == nil {
					_ = pprof.Lookup("allocs").WriteTo(f, 0)
					_ = f.Close()
				}
			}
		}
	}
}

// writeImage writes a valid PNG of about size bytes: random pixels stored
// uncompressed, so the size is what was asked and every upload is real
// bytes for the sandbox to hash.
func writeImage(path string, size int) error {
	side := int(math.Sqrt(float64(size) / 4))
	img := image.NewNRGBA(image.Rect(0, 0, side, side))
	r := rand.New(rand.NewPCG(1, 2))
	for i := range img.Pix {
		img.Pix[i] = uint8(r.UintN(256))
	}
	img.Set(0, 0, color.NRGBA{A: 255})
	var buf bytes.Buffer
	if err := (&png.Encoder{CompressionLevel: png.NoCompression}).Encode(&buf, img); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

type machine struct {
	NProc int    `json:"nproc"`
	CPU   string `json:"cpu"`
	Redis string `json:"redis"`
	Go    string `json:"go"`
}

func describeMachine(ctx context.Context, rc redis.UniversalClient, srv *redisserver.Server) machine {
	m := machine{NProc: runtime.NumCPU(), Go: runtime.Version(), Redis: srv.Version()}
	if info, err := rc.Info(ctx, "server").Result(); err == nil {
		for _, l := range strings.Split(info, "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
				m.Redis = v
			}
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

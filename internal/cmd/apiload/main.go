// Command apiload measures the HTTP enqueue API: it drives
// POST /v1/pipelines at a fixed concurrency against the api package
// served on a loopback port, over a tasks.Client on a redis-server it
// starts itself, and reports accepted requests per second and latency
// percentiles.
//
// Everything runs on this machine: the load generator, the API and Redis
// share its cores, as the target in docs/benchmarks-http-api.md assumes.
//
//	go run ./internal/cmd/apiload                      # 3 runs of 20000 requests at concurrency 50
//	go run ./internal/cmd/apiload -cpuprofile cpu.out  # and a CPU profile of the measured runs
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"
)

type options struct {
	requests    int
	warmup      int
	concurrency int
	runs        int
	media       int
	keys        bool
	accessLog   bool
	authGuard   bool
	cpuProfile  string
	timeout     time.Duration
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("apiload", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.requests, "requests", 20000, "measured requests per run")
	fs.IntVar(&o.warmup, "warmup", 2000, "requests sent before each run's measurement (connections, pools, Redis warm)")
	fs.IntVar(&o.concurrency, "concurrency", 50, "requests in flight at once")
	fs.IntVar(&o.runs, "runs", 3, "runs; medians are reported across them")
	fs.IntVar(&o.media, "media", 1, "media sources per publish request")
	fs.BoolVar(&o.keys, "keys", true, "send a unique Idempotency-Key with each request, as a careful client does")
	fs.BoolVar(&o.accessLog, "access-log", true, "write the API's access log (JSON, discarded) as the worker does")
	fs.BoolVar(&o.authGuard, "auth-guard", true, "count failed authentications in Redis as the worker does (AUTH_FAILURE_LIMIT), which asks Redis once per request")
	fs.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the measured runs to this file")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up after this long")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if o.requests < 1 || o.concurrency < 1 || o.runs < 1 || o.media < 1 || o.warmup < 0 {
		fmt.Fprintln(stderr, "apiload: -requests, -concurrency, -runs and -media must be at least 1, -warmup at least 0")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()

	env, err := startEnv(o)
	if err != nil {
		fmt.Fprintln(stderr, "apiload:", err)
		return 1
	}
	defer env.close()

	fmt.Fprintf(stdout, "apiload: %d runs of %d requests (after %d warm-up) at concurrency %d, %d media each, keys=%v, access log=%v, auth guard=%v\n",
		o.runs, o.requests, o.warmup, o.concurrency, o.media, o.keys, o.accessLog, o.authGuard)
	fmt.Fprintf(stdout, "machine: %d cores (GOMAXPROCS %d), %s; %s; %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), cpuModel(), env.redisVersion, runtime.Version())

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "apiload: cpu profile:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(stderr, "apiload: cpu profile:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}

	var results []result
	for i := range o.runs {
		if err := env.reset(ctx); err != nil {
			fmt.Fprintln(stderr, "apiload:", err)
			return 1
		}
		if _, err := env.drive(ctx, o, o.warmup, fmt.Sprintf("warm%d", i)); err != nil {
			fmt.Fprintln(stderr, "apiload: warm-up:", err)
			return 1
		}
		res, err := env.drive(ctx, o, o.requests, fmt.Sprintf("run%d", i))
		if err != nil {
			fmt.Fprintln(stderr, "apiload:", err)
			return 1
		}
		results = append(results, res)
		fmt.Fprintf(stdout, "run %d: %s\n", i+1, res)
	}
	med := medianOf(results)
	fmt.Fprintf(stdout, "median: %s\n", med)
	target := med.acceptedPerSec >= 2000 && med.p99 < 50*time.Millisecond
	fmt.Fprintf(stdout, "target (>= 2000 accepted/s, p99 < 50ms): %s\n", map[bool]string{true: "met", false: "MISSED"}[target])
	if med.failed > 0 {
		return 1
	}
	return 0
}

// cpuModel reads the processor's name, for the record of what was measured.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// The tracing phase: what tracing costs a pipeline, an on/off phase
// (onoff.go): tracing off (as a worker runs with no OTEL_* setting: no
// SDK, no-op spans) and on, set up by tracingsdk.Setup from OTEL_* as
// cmd/worker does it, with a 100% sampler, batching to an OTLP/HTTP
// collector on this machine.

type tracingOptions struct {
	rounds   int
	n        int
	endpoint string
	profile  string
}

func tracingFlags(fs *flag.FlagSet, o *tracingOptions) {
	fs.IntVar(&o.rounds, "tracing-rounds", 5, "rounds of the tracing phase, each a run with tracing off then one with it on; 0 skips it")
	fs.IntVar(&o.n, "tracing-n", 600, "pipelines in each run of the tracing phase")
	fs.StringVar(&o.profile, "tracing-cpuprofile", "", "write a CPU profile of the whole process during the last run with tracing on to this file, and of the last with it off to this file .off")
	fs.StringVar(&o.endpoint, "tracing-endpoint", "", "OTLP/HTTP endpoint of the collector the tracing phase exports to (a running Jaeger: http://127.0.0.1:4318); empty starts an in-process one that reads and drops what it gets")
}

type tracingResult struct {
	off, on  []pipelineResult
	endpoint string
	// requests and bytes the in-process collector took (0 with an outside
	// one).
	requests, bytes atomic.Int64
}

type tracingSummary struct {
	onOffSummary
	OTLPBytesPerPipe  float64 `json:"otlp_bytes_per_pipeline,omitempty"`
	OTLPRequestsTotal int64   `json:"otlp_requests,omitempty"`
}

// runTracing runs the tracing phase.
func runTracing(ctx context.Context, rc redis.UniversalClient, o options, progress func(string, ...any), flush func() error) (*tracingResult, error) {
	res := &tracingResult{endpoint: o.tr.endpoint}
	if res.endpoint == "" {
		collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n, _ := io.Copy(io.Discard, r.Body)
			res.requests.Add(1)
			res.bytes.Add(n)
			// An empty ExportTraceServiceResponse: everything accepted.
			w.Header().Set("Content-Type", "application/x-protobuf")
		}))
		defer collector.Close()
		res.endpoint = collector.URL
	}
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": res.endpoint,
		"OTEL_TRACES_SAMPLER":         "always_on",
		"OTEL_SERVICE_NAME":           "mediaflow-bench",
	}
	var err error
	res.off, res.on, err = alternate(o.tr.rounds, func(round int, on bool) (pipelineResult, error) {
		// Off is what Setup gives a worker with no OTEL_* setting.
		getenv := func(string) string { return "" }
		if on {
			getenv = func(k string) string { return env[k] }
		}
		tr, err := tracingsdk.Setup(ctx, getenv, tracingsdk.Build{Version: "bench"})
		if err != nil {
			return pipelineResult{}, err
		}
		run := o
		run.tracing = tr.TracerProvider()
		progress("tracing %d/%d: %d pipelines, tracing %s", round, o.tr.rounds, o.tr.n, map[bool]string{false: "off", true: "on, 100% sampled, to " + res.endpoint}[on])
		prof := func() func() { return func() {} }
		if round == o.tr.rounds && o.tr.profile != "" {
			p := o
			p.cpuProfile, p.memProfile = o.tr.profile+map[bool]string{false: ".off", true: ""}[on], ""
			prof = profiler(p)
		}
		r, err := runPipelines(ctx, rc, run, o.tr.n, o.workers, 0, prof)
		if err != nil {
			return r, err
		}
		if on {
			// What is still buffered is part of the run's cost.
			cpu0 := cpuTime()
			fctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := tr.Shutdown(fctx)
			cancel()
			if err != nil {
				return r, fmt.Errorf("tracing: export the spans left: %w", err)
			}
			r.cpu += cpuTime() - cpu0
		}
		return r, flush()
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (t *tracingResult) summary() *tracingSummary {
	if t == nil {
		return nil
	}
	sum := summarizeOnOff(t.off, t.on)
	if sum == nil {
		return nil
	}
	s := &tracingSummary{onOffSummary: *sum, OTLPRequestsTotal: t.requests.Load()}
	if n := len(t.on) * t.on[0].pipelines; t.bytes.Load() > 0 && n > 0 {
		s.OTLPBytesPerPipe = round(float64(t.bytes.Load())/float64(n), 0)
	}
	return s
}

func (t *tracingResult) print(w io.Writer) {
	s := t.summary()
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\ntracing: %d rounds of %d pipelines, off then on (100%% sampled, OTLP/HTTP to %s)\n", s.Rounds, s.Pipelines, t.endpoint)
	kib := func(r pipelineResult) float64 { return float64(r.allocBytes) / 1024 / float64(r.pipelines) }
	for i := range t.off {
		fmt.Fprintf(w, "  round %d: off %.3f ms CPU per pipeline (%.0f/s, %.0f KiB allocated), on %.3f ms (%.0f/s, %.0f KiB)\n", i+1,
			cpuPerPipeline(t.off)[i], t.off[i].pipelinesPerSec(), kib(t.off[i]), cpuPerPipeline(t.on)[i], t.on[i].pipelinesPerSec(), kib(t.on[i]))
	}
	fmt.Fprintf(w, "  median: off %.3f ms, on %.3f ms: on ÷ off %.3f (target ≤ 1.15); off runs spread %.1f%% (the noise)\n",
		s.OffCPUmsPerPipe, s.OnCPUmsPerPipe, s.OnOverOff, s.OffSpreadPct)
	if s.OTLPBytesPerPipe > 0 {
		fmt.Fprintf(w, "  exported %.0f bytes of OTLP per pipeline in %d requests\n", s.OTLPBytesPerPipe, s.OTLPRequestsTotal)
	}
}

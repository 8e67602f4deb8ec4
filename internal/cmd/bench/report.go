package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

type report struct {
	opts      options
	machine   machine
	baseline  baselineResult
	plain     baselineResult
	mediaflow pipelineResult
	pending   pendingResult
	scale     *scaleResult
	idle      idleResult
	scaling   []scalingRun
	tracing   *tracingResult
	preflight *preflightResult
	peakRSS   float64
}

type scalingRun struct {
	asynq     baselineResult
	mediaflow pipelineResult
}

// summary is the JSON line. p50_ms and p99_ms are accept → attached at
// idle load (the latency target); load_* are the same under the
// throughput run's burst, where they are mostly queueing.
type summary struct {
	PipelinesPerSec      float64 `json:"pipelines_per_sec"`
	StepsPerSec          float64 `json:"steps_per_sec"`
	AsynqNoopTasksPerSec float64 `json:"asynq_noop_tasks_per_sec"`
	Ratio                float64 `json:"ratio"`
	RedisCmdsPerPipeline float64 `json:"redis_cmds_per_pipeline"`
	AsynqCmdsPerTask     float64 `json:"asynq_cmds_per_task"`
	TasksPerPipeline     float64 `json:"tasks_per_pipeline"`
	RedisCmdsBudget      float64 `json:"redis_cmds_per_pipeline_budget"`
	P50ms                float64 `json:"p50_ms"`
	P99ms                float64 `json:"p99_ms"`
	LoadP50ms            float64 `json:"load_p50_ms"`
	LoadP99ms            float64 `json:"load_p99_ms"`
	PeakRSSMiB           float64 `json:"peak_rss_mib"`
	ThroughputPeakRSSMiB float64 `json:"throughput_peak_rss_mib,omitempty"`
	AllocKiBPerPipeline  float64 `json:"alloc_kib_per_pipeline"`
	CPUPerStepMicros     float64 `json:"cpu_us_per_step"`
	CPUPerNoopTaskMicros float64 `json:"cpu_us_per_noop_task"`
	APICallsPerPipeline  float64 `json:"api_calls_per_pipeline"`
	CPUmsPerPipeline     float64 `json:"cpu_ms_per_pipeline"`
	// The plain asynq chain: the same publications, one asynq task per
	// step, no record (phase 2).
	PlainPipelinesPerSec     float64 `json:"plain_asynq_pipelines_per_sec"`
	PlainRedisCmdsPerPipline float64 `json:"plain_asynq_redis_cmds_per_pipeline"`
	PlainCPUmsPerPipeline    float64 `json:"plain_asynq_cpu_ms_per_pipeline"`
	PlainAPICallsPerPipeline float64 `json:"plain_asynq_api_calls_per_pipeline"`
	RatioVsPlain             float64 `json:"ratio_vs_plain"`
	CPURatioVsPlain          float64 `json:"cpu_ratio_vs_plain"`
	// Redis memory per publication (used_memory deltas): finished, after
	// the throughput run; pending, accepted with no worker running.
	RedisBytesPerFinished float64 `json:"redis_bytes_per_finished"`
	RedisBytesPerPending  float64 `json:"redis_bytes_per_pending"`
	// Scale: -scale only (scale.go).
	Scale *scaleSummary `json:"scale,omitempty"`
	// The idle phase, at the worker's default settings.
	IdleP50ms           float64         `json:"idle_p50_ms"`
	IdleRedisCmdsPerSec float64         `json:"idle_redis_cmds_per_sec"`
	PeakRSSAt400MiB     float64         `json:"peak_rss_mib_at_400,omitempty"`
	Scaling             []scalingPoint  `json:"scaling,omitempty"`
	Pipelines           int             `json:"pipelines"`
	Concurrency         int             `json:"concurrency"`
	FileBytes           int             `json:"file_bytes"`
	PollMs              float64         `json:"poll_ms"`
	DelayedCheckMs      float64         `json:"delayed_check_ms"`
	WatchFirstMs        float64         `json:"watch_first_ms"`
	Problems            []string        `json:"problems,omitempty"`
	Machine             machine         `json:"machine"`
	Tracing             *tracingSummary `json:"tracing,omitempty"`
	Preflight           *onOffSummary   `json:"preflight,omitempty"`
}

type scalingPoint struct {
	Concurrency     int     `json:"concurrency"`
	LatencyMs       float64 `json:"latency_ms"`
	Pipelines       int     `json:"pipelines"`
	PipelinesPerSec float64 `json:"pipelines_per_sec"`
	StepsPerSec     float64 `json:"steps_per_sec"`
	IdealPerSec     float64 `json:"ideal_pipelines_per_sec"`
	AsynqPerSec     float64 `json:"asynq_sleep_chains_per_sec"`
	P50ms           float64 `json:"load_p50_ms"`
	P99ms           float64 `json:"load_p99_ms"`
	CPUCores        float64 `json:"cpu_cores"`
	RedisCPUCores   float64 `json:"redis_cpu_cores"`
	MachineBusy     float64 `json:"machine_busy"`
	SlotMs          float64 `json:"handler_ms_per_pipeline"`
	SchedP99ms      float64 `json:"sched_wait_p99_ms"`
	Occupancy       float64 `json:"slot_occupancy"`
	PeakRSSMiB      float64 `json:"peak_rss_mib"`
}

// ideal is the throughput if every task slot spent its time waiting on the
// API and nothing else: concurrency ÷ (API calls per pipeline × latency).
func ideal(r pipelineResult) float64 {
	perPipeline := float64(r.apiCalls) / float64(r.pipelines) * r.latency.Seconds()
	if perPipeline == 0 {
		return 0
	}
	return float64(r.concurrency) / perPipeline
}

func cores(cpu, wall time.Duration) float64 { return cpu.Seconds() / wall.Seconds() }

func (rep *report) summary() summary {
	b, m := rep.baseline, rep.mediaflow
	tpp := float64(m.steps) / float64(m.pipelines)
	s := summary{
		PipelinesPerSec:       round(m.pipelinesPerSec(), 1),
		StepsPerSec:           round(m.stepsPerSec(), 1),
		AsynqNoopTasksPerSec:  round(b.tasksPerSec(), 1),
		Ratio:                 round(m.stepsPerSec()/b.tasksPerSec(), 3),
		RedisCmdsPerPipeline:  round(m.cmdsPerPipeline(), 2),
		AsynqCmdsPerTask:      round(b.cmdsPerTask(), 2),
		TasksPerPipeline:      round(tpp, 3),
		RedisCmdsBudget:       round(1.25*b.cmdsPerTask()*tpp, 2),
		LoadP50ms:             round(ms(percentile(m.attached, 50)), 1),
		LoadP99ms:             round(ms(percentile(m.attached, 99)), 1),
		PeakRSSMiB:            round(rep.peakRSS, 1),
		ThroughputPeakRSSMiB:  round(m.peakRSS, 1),
		AllocKiBPerPipeline:   round(float64(m.allocBytes)/1024/float64(m.pipelines), 1),
		CPUPerStepMicros:      round(float64(m.cpu.Microseconds())/float64(m.steps), 1),
		CPUPerNoopTaskMicros:  round(float64(b.cpu.Microseconds())/float64(b.tasks), 1),
		APICallsPerPipeline:   round(float64(m.apiCalls)/float64(m.pipelines), 2),
		CPUmsPerPipeline:      round(ms(m.cpu)/float64(m.pipelines), 3),
		IdleRedisCmdsPerSec:   round(rep.idle.cmdsPerSec(), 1),
		RedisBytesPerFinished: round(float64(m.redisBytes)/float64(m.pipelines), 0),
		RedisBytesPerPending:  round(rep.pending.perPipeline(), 0),
		Scale:                 rep.scale.summary(),
		Pipelines:             m.pipelines,
		Concurrency:           m.concurrency,
		FileBytes:             rep.opts.fileSize,
		PollMs:                ms(rep.opts.poll),
		DelayedCheckMs:        ms(rep.opts.delayedCheck),
		WatchFirstMs:          ms(rep.opts.timing.WatchFirst),
		Problems:              m.problems,
		Machine:               rep.machine,
	}
	if p := rep.plain; p.chains > 0 {
		perSec := float64(p.chains) / p.elapsed.Seconds()
		s.PlainPipelinesPerSec = round(perSec, 1)
		s.PlainRedisCmdsPerPipline = round(float64(p.cmds.total())/float64(p.chains), 2)
		s.PlainCPUmsPerPipeline = round(ms(p.cpu)/float64(p.chains), 3)
		s.PlainAPICallsPerPipeline = round(float64(p.apiCalls)/float64(p.chains), 2)
		s.RatioVsPlain = round(m.pipelinesPerSec()/perSec, 3)
		if p.cpu > 0 {
			s.CPURatioVsPlain = round((ms(m.cpu)/float64(m.pipelines))/(ms(p.cpu)/float64(p.chains)), 3)
		}
		s.Problems = append(s.Problems, p.problems...)
		if s.PlainAPICallsPerPipeline != s.APICallsPerPipeline {
			s.Problems = append(s.Problems, fmt.Sprintf("mediaflow made %.2f API calls per pipeline, the plain chain %.2f", s.APICallsPerPipeline, s.PlainAPICallsPerPipeline))
		}
	}
	if a := rep.idle.attached; len(a) > 0 {
		s.P50ms = round(ms(percentile(a, 50)), 1)
		s.P99ms = round(ms(percentile(a, 99)), 1)
		s.IdleP50ms = s.P50ms
	}
	chain := pipelineChain(rep.opts.timing)
	if tpp != float64(len(chain)) {
		s.Problems = append(s.Problems, fmt.Sprintf("pipelines ran %.3f tasks each; the baseline chains %d", tpp, len(chain)))
	}
	if calls := float64(m.apiCalls) / float64(m.pipelines); calls != float64(chainCalls(chain)) {
		s.Problems = append(s.Problems, fmt.Sprintf("pipelines made %.2f API calls each; the latency baseline sleeps for %d", calls, chainCalls(chain)))
	}
	for _, sr := range rep.scaling {
		r := sr.mediaflow
		s.Scaling = append(s.Scaling, scalingPoint{
			Concurrency: r.concurrency, LatencyMs: ms(r.latency), Pipelines: r.pipelines,
			PipelinesPerSec: round(r.pipelinesPerSec(), 1), StepsPerSec: round(r.stepsPerSec(), 1),
			IdealPerSec: round(ideal(r), 1),
			AsynqPerSec: round(float64(sr.asynq.chains)/sr.asynq.elapsed.Seconds(), 1),
			P50ms:       round(ms(percentile(r.attached, 50)), 1), P99ms: round(ms(percentile(r.attached, 99)), 1),
			CPUCores: round(cores(r.cpu, r.elapsed), 2), RedisCPUCores: round(cores(r.redisCPU, r.elapsed), 2),
			MachineBusy: round(r.machineBusy, 2),
			SlotMs:      round(ms(r.handlerTime()), 1),
			SchedP99ms:  round(ms(r.schedP99), 2),
			Occupancy:   round(r.pipelinesPerSec()*r.handlerTime().Seconds()/float64(r.concurrency), 2),
			PeakRSSMiB:  round(r.peakRSS, 1),
		})
		if r.concurrency == 400 {
			s.PeakRSSAt400MiB = round(r.peakRSS, 1)
		}
		for _, p := range r.problems {
			s.Problems = append(s.Problems, fmt.Sprintf("concurrency %d: %s", r.concurrency, p))
		}
	}
	return s
}

func (rep *report) print(w io.Writer) {
	s := rep.summary()
	b, m, o := rep.baseline, rep.mediaflow, rep.opts
	fmt.Fprintf(w, "mediaflow bench — %d cores (%s), Redis %s, %s\n", s.Machine.NProc, s.Machine.CPU, s.Machine.Redis, s.Machine.Go)
	fmt.Fprintf(w, "concurrency %d, poll %s, delayed check %s, watch first %s, %d KiB image, %d pipelines\n\n",
		o.workers, o.poll, o.delayedCheck, o.timing.WatchFirst, o.fileSize>>10, o.pipelines)

	pl := rep.plain
	perChain := func(r baselineResult, v float64) float64 { return v / float64(max(r.chains, 1)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\tasynq no-op\tplain asynq\tmediaflow\t\n")
	fmt.Fprintf(tw, "tasks run (mediaflow: steps, inline ones included)\t%d\t%d\t%d\t\n", b.tasks, pl.tasks, m.steps)
	fmt.Fprintf(tw, "tasks per chain / pipeline\t%d\t%.2f\t%.2f\t\n", len(pipelineChain(o.timing)), perChain(pl, float64(pl.tasks)), s.TasksPerPipeline)
	fmt.Fprintf(tw, "elapsed\t%s\t%s\t%s\t\n", b.elapsed.Round(time.Millisecond), pl.elapsed.Round(time.Millisecond), m.elapsed.Round(time.Millisecond))
	fmt.Fprintf(tw, "tasks/s\t%.0f\t%.0f\t%.0f\tratio %.3f (mediaflow steps/s ÷ no-op tasks/s)\n", b.tasksPerSec(), pl.tasksPerSec(), m.stepsPerSec(), s.Ratio)
	fmt.Fprintf(tw, "chains / pipelines per s\t%.0f\t%.0f\t%.0f\tratio vs plain %.3f (target ≥ 1.0)\n", float64(b.chains)/b.elapsed.Seconds(), s.PlainPipelinesPerSec, m.pipelinesPerSec(), s.RatioVsPlain)
	fmt.Fprintf(tw, "process CPU per task\t%.0f µs\t%.0f µs\t%.0f µs\t\n", s.CPUPerNoopTaskMicros, float64(pl.cpu.Microseconds())/float64(max(pl.tasks, 1)), s.CPUPerStepMicros)
	fmt.Fprintf(tw, "process CPU per chain / pipeline\t%.3f ms\t%.3f ms\t%.3f ms\t%.2f × plain (target ≤ 1.0)\n", perChain(b, ms(b.cpu)), s.PlainCPUmsPerPipeline, s.CPUmsPerPipeline, s.CPUmsPerPipeline/s.PlainCPUmsPerPipeline)
	fmt.Fprintf(tw, "process CPU (cores busy)\t%.2f\t%.2f\t%.2f\t\n", cores(b.cpu, b.elapsed), cores(pl.cpu, pl.elapsed), cores(m.cpu, m.elapsed))
	fmt.Fprintf(tw, "redis CPU (cores busy)\t%.2f\t%.2f\t%.2f\t\n", cores(b.redisCPU, b.elapsed), cores(pl.redisCPU, pl.elapsed), cores(m.redisCPU, m.elapsed))
	fmt.Fprintf(tw, "goroutine wait for a CPU, p50 / p99\t\t\t%.2f / %.2f ms\t\n", ms(m.schedP50), ms(m.schedP99))
	fmt.Fprintf(tw, "machine CPU busy (all processes)\t%.0f%%\t%.0f%%\t%.0f%%\t\n", 100*b.machineBusy, 100*pl.machineBusy, 100*m.machineBusy)
	fmt.Fprintf(tw, "redis commands per task\t%.2f\t%.2f\t%.2f\t\n", b.cmdsPerTask(), pl.cmdsPerTask(), float64(m.cmds.total())/float64(m.steps))
	fmt.Fprintf(tw, "redis commands per chain / pipeline\t%.1f\t%.1f\t%.1f\t%.2f × plain (target ≤ 1.0)\n",
		perChain(b, float64(b.cmds.total())), s.PlainRedisCmdsPerPipline, s.RedisCmdsPerPipeline, s.RedisCmdsPerPipeline/s.PlainRedisCmdsPerPipline)
	fmt.Fprintf(tw, "Swonkie API calls per pipeline\t\t%.2f\t%.2f\t(+1 upload)\n", s.PlainAPICallsPerPipeline, s.APICallsPerPipeline)
	fmt.Fprintf(tw, "pipeline record JSON (public view), finished\t\t\t%d bytes\t\n", m.recordBytes)
	fmt.Fprintf(tw, "Redis bytes per publication, finished / pending (used_memory)\t\t\t%.0f / %.0f\t(targets ≤ 1,024 / ≤ 2,048)\n", s.RedisBytesPerFinished, s.RedisBytesPerPending)
	for k, v := range m.keyBytes {
		fmt.Fprintf(tw, "  MEMORY USAGE %s\t\t\t%d\t\n", k, v)
	}
	fmt.Fprintf(tw, "HTTP connections the sandbox accepted\t\t\t%d\t\n", m.conns)
	fmt.Fprintf(tw, "Go allocation per pipeline\t\t\t%.0f KiB\t(image %d KiB)\n", s.AllocKiBPerPipeline, o.fileSize>>10)
	fmt.Fprintf(tw, "peak RSS of the run\t\t\t%.0f MiB\t\n", m.peakRSS)
	fmt.Fprintf(tw, "accept → attached, burst\t\t\tp50 %.0f ms, p99 %.0f ms\t(all %d published at once)\n", s.LoadP50ms, s.LoadP99ms, m.pipelines)
	_ = tw.Flush()

	fmt.Fprintf(w, "\nidle, a worker at its default settings (poll %s, delayed check %s, watch first %s):\n", defaultPoll, time.Second, tasks.DefaultTiming.WatchFirst)
	fmt.Fprintf(w, "  accept → attached: p50 %.0f ms, p99 %.0f ms (%d pipelines one at a time; target p50 ≤ 40 ms)\n", s.IdleP50ms, s.P99ms, len(rep.idle.attached))
	if rep.idle.window > 0 {
		fmt.Fprintf(w, "  Redis commands with nothing to do: %.1f/s over %s (target < 300/s), process CPU %.1f ms/s:", s.IdleRedisCmdsPerSec, rep.idle.window.Round(time.Millisecond), ms(rep.idle.cpu)/rep.idle.window.Seconds())
		for _, k := range rep.idle.cmds.top() {
			fmt.Fprintf(w, " %s %.1f", k, float64(rep.idle.cmds[k])/rep.idle.window.Seconds())
		}
		fmt.Fprintln(w)
	}

	var types []string
	for _, st := range pipelineChain(o.timing) {
		types = append(types, fmt.Sprintf("%s %d (%.1f ms)", st.typ, m.byType[st.typ], ms(m.taskTimes[st.typ])))
	}
	for t, n := range m.byType {
		if !strings.Contains(strings.Join(types, " "), t+" ") {
			types = append(types, fmt.Sprintf("%s %d (%.1f ms)", t, n, ms(m.taskTimes[t])))
		}
	}
	fmt.Fprintf(w, "\nsteps by type (mean handler time): %s\n\n", strings.Join(types, ", "))

	fmt.Fprintln(w, "Redis commands (INFO commandstats; commands inside Lua scripts count under their own names)")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "command\tasynq no-op per chain\tplain asynq per chain\tmediaflow per pipeline\t\n")
	seen := map[string]bool{}
	var names []string
	for _, k := range append(append(m.cmds.top(), pl.cmds.top()...), b.cmds.top()...) {
		if !seen[k] {
			seen[k] = true
			names = append(names, k)
		}
	}
	for _, k := range names {
		fmt.Fprintf(tw, "%s\t%.2f\t%.2f\t%.2f\t\n", k, perChain(b, float64(b.cmds[k])), perChain(pl, float64(pl.cmds[k])), float64(m.cmds[k])/float64(m.pipelines))
	}
	fmt.Fprintf(tw, "total\t%.2f\t%.2f\t%.2f\t\n", perChain(b, float64(b.cmds.total())), s.PlainRedisCmdsPerPipline, s.RedisCmdsPerPipeline)
	_ = tw.Flush()

	if len(rep.scaling) > 0 {
		fmt.Fprintf(w, "\nscaling with API latency %s (ideal: concurrency ÷ (API calls per pipeline × latency); asynq: the baseline chain, each handler sleeping its step's API calls)\n",
			rep.scaling[0].mediaflow.latency)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "concurrency\tpipelines\tpipelines/s\tsteps/s\tideal/s\tof ideal\tasynq/s\tof asynq\thandler ms per pipeline\tslots busy\tp50 ms\tp99 ms\tCPU cores\tredis cores\tmachine busy\tsched wait p99 ms\tpeak RSS MiB\t\n")
		for _, p := range s.Scaling {
			fmt.Fprintf(tw, "%d\t%d\t%.1f\t%.0f\t%.1f\t%.0f%%\t%.1f\t%.0f%%\t%.0f\t%.0f%%\t%.0f\t%.0f\t%.2f\t%.2f\t%.0f%%\t%.2f\t%.0f\t\n",
				p.Concurrency, p.Pipelines, p.PipelinesPerSec, p.StepsPerSec, p.IdealPerSec, pct(p.PipelinesPerSec, p.IdealPerSec),
				p.AsynqPerSec, pct(p.PipelinesPerSec, p.AsynqPerSec), p.SlotMs, 100*p.Occupancy,
				p.P50ms, p.P99ms, p.CPUCores, p.RedisCPUCores, 100*p.MachineBusy, p.SchedP99ms, p.PeakRSSMiB)
		}
		_ = tw.Flush()
	}
	rep.scale.print(w)
	rep.tracing.print(w)
	s.Tracing = rep.tracing.summary()
	rep.preflight.print(w)
	s.Preflight = rep.preflight.summary()
	for _, p := range s.Problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
	fmt.Fprintf(w, "peak RSS of the process: %.0f MiB\n", s.PeakRSSMiB)
	line, _ := json.Marshal(s)
	fmt.Fprintln(w, string(line))
}

// printScale is the report of a -scale run: its table and a JSON line
// holding the scale figures (and the per-record bytes at scale).
func (rep *report) printScale(w io.Writer) {
	rep.scale.print(w)
	sc := rep.scale.summary()
	s := struct {
		RedisBytesPerFinished float64       `json:"redis_bytes_per_finished"`
		RedisBytesPerPending  float64       `json:"redis_bytes_per_pending"`
		Scale                 *scaleSummary `json:"scale"`
		Machine               machine       `json:"machine"`
	}{sc.BytesPerFinished, sc.BytesPerPending, sc, rep.machine}
	line, _ := json.Marshal(s)
	fmt.Fprintln(w, string(line))
}

func pct(part, whole float64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * part / whole
}

func round(v float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(v*p+0.5)) / p
}

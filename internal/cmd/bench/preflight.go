package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/redis/go-redis/v9"
)

// The pre-flight phase: what pre-flight adds to the publish path, an
// on/off phase (onoff.go). Off is a client WithoutPreflight (PREFLIGHT=false:
// pipelines start at their uploads); on is the default: the first step
// probes the file, looks the profiles up in the cached directory (fetched
// once per run, on demand) and checks the networks' rules, and the upload
// declares the probe's size. Both ask Swonkie's verdict before publishing.

type preflightOptions struct {
	rounds int
	n      int
}

func preflightFlags(fs *flag.FlagSet, o *preflightOptions) {
	fs.IntVar(&o.rounds, "preflight-rounds", 3, "rounds of the pre-flight phase, each a run with pre-flight off then one with it on; 0 skips it")
	fs.IntVar(&o.n, "preflight-n", 600, "pipelines in each run of the pre-flight phase")
}

type preflightResult struct {
	off, on []pipelineResult
}

// runPreflight runs the pre-flight phase.
func runPreflight(ctx context.Context, rc redis.UniversalClient, o options, progress func(string, ...any), flush func() error) (*preflightResult, error) {
	res := &preflightResult{}
	var err error
	res.off, res.on, err = alternate(o.pf.rounds, func(round int, on bool) (pipelineResult, error) {
		run := o
		run.noPreflight = !on
		progress("pre-flight %d/%d: %d pipelines, pre-flight %s", round, o.pf.rounds, o.pf.n, map[bool]string{false: "off", true: "on"}[on])
		r, err := runPipelines(ctx, rc, run, o.pf.n, o.workers, 0, func() func() { return func() {} })
		if err != nil {
			return r, err
		}
		return r, flush()
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func (p *preflightResult) summary() *onOffSummary {
	if p == nil {
		return nil
	}
	return summarizeOnOff(p.off, p.on)
}

func (p *preflightResult) print(w io.Writer) {
	s := p.summary()
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\npre-flight: %d rounds of %d pipelines, off then on\n", s.Rounds, s.Pipelines)
	off, on := cpuPerPipeline(p.off), cpuPerPipeline(p.on)
	for i := range p.off {
		per := func(r pipelineResult) (float64, float64) {
			return float64(r.cmds.total()) / float64(r.pipelines), float64(r.apiCalls) / float64(r.pipelines)
		}
		offCmds, offCalls := per(p.off[i])
		onCmds, onCalls := per(p.on[i])
		fmt.Fprintf(w, "  round %d: off %.3f ms CPU per pipeline (%.0f/s, %.1f Redis commands, %.2f API calls per pipeline), on %.3f ms (%.0f/s, %.1f, %.2f)\n", i+1,
			off[i], p.off[i].pipelinesPerSec(), offCmds, offCalls, on[i], p.on[i].pipelinesPerSec(), onCmds, onCalls)
	}
	fmt.Fprintf(w, "  median: off %.3f ms, on %.3f ms: on ÷ off %.3f; off runs spread %.1f%% (the noise)\n",
		s.OffCPUmsPerPipe, s.OnCPUmsPerPipe, s.OnOverOff, s.OffSpreadPct)
}

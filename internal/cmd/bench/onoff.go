package main

import (
	"slices"
)

// An on/off phase measures what one feature costs a pipeline: the same
// pipelines as the throughput run, in rounds of two runs back to back, the
// feature off then on. Rounds alternate so that a machine that slows down
// during the phase slows both alike; the spread of the off runs is the
// noise the on ÷ off ratio is read against. The tracing and pre-flight
// phases are two.

// alternate runs rounds of run(round, false) then run(round, true).
func alternate(rounds int, run func(round int, on bool) (pipelineResult, error)) (off, on []pipelineResult, err error) {
	for round := 1; round <= rounds; round++ {
		for _, feature := range []bool{false, true} {
			r, err := run(round, feature)
			if err != nil {
				return nil, nil, err
			}
			if feature {
				on = append(on, r)
			} else {
				off = append(off, r)
			}
		}
	}
	return off, on, nil
}

// onOffSummary is the JSON of an on/off phase.
type onOffSummary struct {
	Rounds           int     `json:"rounds"`
	Pipelines        int     `json:"pipelines_per_run"`
	OffCPUmsPerPipe  float64 `json:"off_cpu_ms_per_pipeline"`
	OnCPUmsPerPipe   float64 `json:"on_cpu_ms_per_pipeline"`
	OffSpreadPct     float64 `json:"off_spread_pct"`
	OnOverOff        float64 `json:"on_over_off"`
	OffPipelinesPerS float64 `json:"off_pipelines_per_sec"`
	OnPipelinesPerS  float64 `json:"on_pipelines_per_sec"`
}

// summarizeOnOff compares the runs by their medians; nil without runs.
func summarizeOnOff(off, on []pipelineResult) *onOffSummary {
	if len(off) == 0 || len(on) == 0 {
		return nil
	}
	offCPU, onCPU := cpuPerPipeline(off), cpuPerPipeline(on)
	perSec := func(rs []pipelineResult) float64 {
		xs := make([]float64, len(rs))
		for i, r := range rs {
			xs[i] = r.pipelinesPerSec()
		}
		return median(xs)
	}
	return &onOffSummary{Rounds: len(off), Pipelines: off[0].pipelines,
		OffCPUmsPerPipe: round(median(offCPU), 3), OnCPUmsPerPipe: round(median(onCPU), 3),
		OffSpreadPct: round(100*(slices.Max(offCPU)-slices.Min(offCPU))/median(offCPU), 1), OnOverOff: round(median(onCPU)/median(offCPU), 3),
		OffPipelinesPerS: round(perSec(off), 1), OnPipelinesPerS: round(perSec(on), 1)}
}

func cpuPerPipeline(rs []pipelineResult) []float64 {
	out := make([]float64, len(rs))
	for i, r := range rs {
		out[i] = ms(r.cpu) / float64(r.pipelines)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

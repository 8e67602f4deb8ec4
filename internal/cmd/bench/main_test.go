package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// A tiny run goes through every phase of the harness (the scaling one
// included), so the harness cannot rot between the times someone measures
// with it, and its last line stays the JSON that machines read.
func TestSmallRunEndsWithTheJSONLine(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-n", "40", "-idle", "3", "-latency", "20ms", "-concurrency", "5", "-latency-n", "10", "-file-size", "4096", "-idle-window", "300ms",
		"-tracing-rounds", "1", "-tracing-n", "10", "-preflight-rounds", "1", "-preflight-n", "10"}
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, lines[len(lines)-1])
	}
	for _, k := range []string{"pipelines_per_sec", "steps_per_sec", "asynq_noop_tasks_per_sec", "ratio",
		"redis_cmds_per_pipeline", "p50_ms", "p99_ms", "peak_rss_mib",
		"plain_asynq_pipelines_per_sec", "plain_asynq_redis_cmds_per_pipeline", "plain_asynq_cpu_ms_per_pipeline",
		"cpu_ms_per_pipeline", "ratio_vs_plain", "idle_p50_ms", "idle_redis_cmds_per_sec"} {
		v, ok := got[k].(float64)
		if !ok || v <= 0 {
			t.Errorf("%s = %v, want a positive number", k, got[k])
		}
	}
	// The tracing phase: spans reached the collector, and both runs cost.
	tr, _ := got["tracing"].(map[string]any)
	for _, k := range []string{"off_cpu_ms_per_pipeline", "on_cpu_ms_per_pipeline", "on_over_off", "otlp_bytes_per_pipeline"} {
		if v, ok := tr[k].(float64); !ok || v <= 0 {
			t.Errorf("tracing.%s = %v, want a positive number", k, tr[k])
		}
	}
	// The pre-flight phase: both runs cost.
	pf, _ := got["preflight"].(map[string]any)
	for _, k := range []string{"off_cpu_ms_per_pipeline", "on_cpu_ms_per_pipeline", "on_over_off"} {
		if v, ok := pf[k].(float64); !ok || v <= 0 {
			t.Errorf("preflight.%s = %v, want a positive number", k, pf[k])
		}
	}
	if got["pipelines"].(float64) != 40 {
		t.Errorf("pipelines = %v, want 40", got["pipelines"])
	}
	// A plain chain that makes other calls than mediaflow compares
	// different work: the run must say so where machines read it.
	if plain, mf := got["plain_asynq_api_calls_per_pipeline"], got["api_calls_per_pipeline"]; plain != mf {
		if p, _ := json.Marshal(got["problems"]); !strings.Contains(string(p), "API calls per pipeline, the plain chain") {
			t.Errorf("plain chain made %v API calls per pipeline, mediaflow %v, and problems does not say so: %s", plain, mf, p)
		}
	}
	if !strings.Contains(out.String(), "ratio vs plain") || !strings.Contains(out.String(), "concurrency") {
		t.Errorf("no table for people:\n%s", out.String())
	}
}

func TestBadFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run([]string{"-n", "0"}, &out, &errOut); err == nil || !strings.Contains(err.Error(), "must be positive") {
		t.Errorf("run -n 0: %v", err)
	}
}

// The scale phase at a small size: it fills Redis with records of every
// shape, and every figure it reports (bytes per record, list pages, Get,
// one sweep and its longest command) is measured, in the table and in the
// JSON line.
func TestScaleRunReportsEveryFigure(t *testing.T) {
	var out, errOut bytes.Buffer
	args := []string{"-scale", "-scale-finished", "2000", "-scale-pending", "200", "-scale-samples", "20", "-file-size", "4096"}
	if err := run(args, &out, &errOut); err != nil {
		t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var got struct {
		Scale map[string]any `json:"scale"`
	}
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &got); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, lines[len(lines)-1])
	}
	want := map[string]float64{"finished": 2000, "pending": 200}
	for k, v := range want {
		if got.Scale[k] != v {
			t.Errorf("scale.%s = %v, want %v", k, got.Scale[k], v)
		}
	}
	for _, k := range []string{"redis_bytes_per_finished", "redis_bytes_per_pending", "used_memory_mib",
		"list_first_page_p50_ms", "list_first_page_p99_ms", "list_filtered_p50_ms", "list_filtered_p99_ms",
		"get_p50_ms", "get_p99_ms", "sweep_ms", "sweep_retention_deleted", "sweep_longest_command_ms", "seed_seconds"} {
		if v, ok := got.Scale[k].(float64); !ok || v <= 0 {
			t.Errorf("scale.%s = %v, want a positive number", k, got.Scale[k])
		}
	}
	if got.Scale["sweep_within_budget"] != true {
		t.Errorf("scale.sweep_within_budget = %v, want true: 2,000 records take one batch", got.Scale["sweep_within_budget"])
	}
	if c, _ := got.Scale["sweep_longest_command"].(string); c == "" || c == "none" {
		t.Errorf("scale.sweep_longest_command = %q, want the command", c)
	}
	for _, want := range []string{"bytes per record", "list, first page", "Client.Get", "one sweep"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}

package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

func TestPipelineFinishedLabels(t *testing.T) {
	t.Parallel()
	cases := []struct {
		state, failedStep string
		wantState         string
		wantStep          string
	}{
		{state: "succeeded", wantState: "succeeded", wantStep: ""},
		{state: "succeeded", failedStep: "post:attach", wantState: "succeeded", wantStep: ""},
		{state: "cancelled", wantState: "cancelled", wantStep: ""},
		{state: "failed", failedStep: "media:upload", wantState: "failed", wantStep: "media:upload"},
		{state: "failed", wantState: "failed", wantStep: "unknown"},
		{state: "exploded", failedStep: "x", wantState: "unknown", wantStep: ""},
	}
	for _, tc := range cases {
		t.Run(tc.state+"/"+tc.failedStep, func(t *testing.T) {
			t.Parallel()
			m := metrics.New(metrics.Options{})
			m.PipelineFinished(metrics.DefaultWorkspace, tc.state, tc.failedStep)
			if got := value(t, m, "mediaflow_pipelines_finished_total", "state", tc.wantState, "failed_step", tc.wantStep); got != 1 {
				t.Errorf("pipelines_finished_total{state=%q,failed_step=%q} = %v, want 1", tc.wantState, tc.wantStep, got)
			}
		})
	}
}

func TestPipelineCountersAndDurations(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	// Zero series exist before anything happens, for rates and alerts.
	for _, s := range []string{"succeeded", "cancelled"} {
		if !hasSeries(t, m, "mediaflow_pipelines_finished_total", "state", s, "failed_step", "") {
			t.Errorf("no zero series for finished state %s", s)
		}
	}
	zeros := map[string][]string{
		"mediaflow_media_deleted_total":     {"after_publish", "compensation", "stale", "cancelled"},
		"mediaflow_media_left_behind_total": {"delete_refused", "unrecorded"},
	}
	for name, reasons := range zeros {
		for _, r := range reasons {
			if !hasSeries(t, m, name, "reason", r) {
				t.Errorf("no zero series %s{reason=%q}", name, r)
			}
		}
	}

	m.PipelineAccepted()
	m.PipelineAccepted()
	m.ObserveAttachedContext(context.Background(), 90*time.Second)
	m.ObservePublishedContext(context.Background(), 2*time.Hour)
	m.MediaDeleted(metrics.ReasonStale)
	m.MediaDeleted("https://cdn.example/leak")
	m.MediaLeftBehind(metrics.ReasonDeleteRefused)
	m.MediaLeftBehind("compensation")

	if got := value(t, m, "mediaflow_pipelines_accepted_total"); got != 2 {
		t.Errorf("pipelines_accepted_total = %v, want 2", got)
	}
	if got := histogramSum(t, m, "mediaflow_pipeline_attach_duration_seconds"); got != 90 {
		t.Errorf("attach duration sum = %v, want 90", got)
	}
	if got := histogramSum(t, m, "mediaflow_pipeline_publish_duration_seconds"); got != 7200 {
		t.Errorf("publish duration sum = %v, want 7200", got)
	}
	if got := value(t, m, "mediaflow_media_deleted_total", "reason", "stale"); got != 1 {
		t.Errorf("media_deleted_total{stale} = %v, want 1", got)
	}
	if got := value(t, m, "mediaflow_media_deleted_total", "reason", "unknown"); got != 1 {
		t.Errorf("a reason outside the set: media_deleted_total{unknown} = %v, want 1", got)
	}
	if got := value(t, m, "mediaflow_media_left_behind_total", "reason", "delete_refused"); got != 1 {
		t.Errorf("media_left_behind_total{delete_refused} = %v, want 1", got)
	}
	if got := value(t, m, "mediaflow_media_left_behind_total", "reason", "unknown"); got != 1 {
		t.Errorf("a reason outside the set: media_left_behind_total{unknown} = %v, want 1", got)
	}
	assertNoLeaks(t, m, "cdn.example")
}

func TestSweepFinished(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	if got := value(t, m, "mediaflow_sweep_last_success_timestamp_seconds"); got != 0 {
		t.Fatalf("last success before any sweep = %v, want 0", got)
	}
	before := float64(time.Now().Unix())
	m.SweepFinished(nil, 2*time.Second, map[string]int{"stuck_failed": 2, "retention_deleted": 10, "cleanup_retried": 0})
	last := value(t, m, "mediaflow_sweep_last_success_timestamp_seconds")
	if last < before {
		t.Errorf("last success = %v, want >= %v", last, before)
	}
	m.SweepFinished(errors.New("redis: i/o timeout"), time.Second, map[string]int{"stuck_failed": 1})

	want := []struct {
		name   string
		labels []string
		v      float64
	}{
		{"mediaflow_sweep_runs_total", []string{"outcome", "ok"}, 1},
		{"mediaflow_sweep_runs_total", []string{"outcome", "error"}, 1},
		{"mediaflow_sweep_pipelines_total", []string{"action", "stuck_failed"}, 3},
		{"mediaflow_sweep_pipelines_total", []string{"action", "retention_deleted"}, 10},
		{"mediaflow_sweep_pipelines_total", []string{"action", "cleanup_retried"}, 0},
		{"mediaflow_sweep_last_success_timestamp_seconds", nil, last},
	}
	for _, w := range want {
		if !hasSeries(t, m, w.name, w.labels...) {
			t.Errorf("no series %s%v", w.name, w.labels)
		}
		if got := value(t, m, w.name, w.labels...); got != w.v {
			t.Errorf("%s%v = %v, want %v", w.name, w.labels, got, w.v)
		}
	}
	if got := histogramCount(t, m, "mediaflow_sweep_duration_seconds"); got != 2 {
		t.Errorf("sweep_duration_seconds count = %d, want 2", got)
	}
}

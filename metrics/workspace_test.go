package metrics_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

// The workspace label takes the names InitWorkspaces was given, with
// their series at zero from the start; any other name is counted as
// "other", so the label set stays what the configuration made it.
func TestWorkspaceLabelIsBounded(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	m.InitEndpoint("POST", "/media")
	m.InitWorkspaces("acme", "globex")
	for _, ws := range []string{"acme", "globex"} {
		for _, s := range [][]string{
			{"mediaflow_pipelines_finished_total", "workspace", ws, "state", "succeeded", "failed_step", ""},
			{"mediaflow_active_pipelines", "workspace", ws},
			{"mediaflow_runs_deferred_total", "workspace", ws, "reason", metrics.DeferredBudget},
			{"mediaflow_swonkie_requests_total", "workspace", ws, "endpoint", "/media", "method", "POST", "code", "2xx"},
		} {
			if !hasSeries(t, m, s[0], s[1:]...) {
				t.Errorf("no zero series %v", s)
			}
		}
	}
	tests := []struct {
		name, ws, want string
	}{
		{"a configured workspace", "acme", "acme"},
		{"no workspace: the default", "", metrics.DefaultWorkspace},
		{"an unknown name", "evil-" + t.Name(), "other"},
	}
	for _, tc := range tests {
		m.PipelineFinished(tc.ws, metrics.StateFailed, "post:attach")
		m.RunDeferred(tc.ws, metrics.DeferredMaxActive)
		m.BudgetWaited(tc.ws, metrics.LimiterFleet, time.Millisecond)
		if got := value(t, m, "mediaflow_pipelines_finished_total", "workspace", tc.want, "state", "failed", "failed_step", "post:attach"); got != 1 {
			t.Errorf("%s: pipelines_finished_total{workspace=%q} = %v, want 1", tc.name, tc.want, got)
		}
		if got := value(t, m, "mediaflow_runs_deferred_total", "workspace", tc.want, "reason", "max_active"); got != 1 {
			t.Errorf("%s: runs_deferred_total{workspace=%q} = %v, want 1", tc.name, tc.want, got)
		}
	}
	m.ActivePipeline("globex", 1)
	m.ActivePipeline("globex", 1)
	m.ActivePipeline("globex", -1)
	if got := value(t, m, "mediaflow_active_pipelines", "workspace", "globex"); got != 1 {
		t.Errorf("active_pipelines{workspace=globex} = %v, want 1", got)
	}

	// A client instrumented before its workspace was named counts under
	// its name once it is.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	c := &http.Client{Transport: m.InstrumentWorkspace("initech")(nil, func(*http.Request) string { return "/posts" }, nil)}
	m.InitWorkspaces("initech")
	resp, err := c.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := value(t, m, "mediaflow_swonkie_requests_total", "workspace", "initech", "endpoint", "/posts", "method", "GET", "code", "2xx"); got != 1 {
		t.Errorf("swonkie_requests_total{workspace=initech} = %v, want 1", got)
	}
}

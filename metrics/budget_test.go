package metrics_test

import (
	"bytes"
	"io"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

func TestBudgetMetrics(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	// Both limiters and the workspace pause exist before anything happens,
	// so a dashboard sees zeros rather than gaps.
	for _, l := range []string{metrics.LimiterFleet, metrics.LimiterLocal} {
		if histogramCount(t, m, "mediaflow_swonkie_budget_wait_seconds", "limiter", l) != 0 {
			t.Fatalf("%s wait is not zero at start", l)
		}
	}
	if !hasSeries(t, m, "mediaflow_swonkie_budget_paused", "endpoint", metrics.BudgetAllEndpoints) {
		t.Fatal("no paused series for the whole workspace at start")
	}

	m.BudgetWaited(metrics.DefaultWorkspace, metrics.LimiterFleet, 200*time.Millisecond)
	m.BudgetWaited(metrics.DefaultWorkspace, metrics.LimiterFleet, 0)
	m.BudgetWaited(metrics.DefaultWorkspace, metrics.LimiterLocal, time.Second)
	if n, s := histogramCount(t, m, "mediaflow_swonkie_budget_wait_seconds", "limiter", "fleet"),
		histogramSum(t, m, "mediaflow_swonkie_budget_wait_seconds", "limiter", "fleet"); n != 2 || s < 0.19 || s > 0.21 {
		t.Fatalf("fleet waits: count %d sum %v", n, s)
	}
	if n := histogramCount(t, m, "mediaflow_swonkie_budget_wait_seconds", "limiter", "local"); n != 1 {
		t.Fatalf("local waits: %d", n)
	}

	m.BudgetPaused("POST /media", true)
	if v := value(t, m, "mediaflow_swonkie_budget_paused", "endpoint", "POST /media"); v != 1 {
		t.Fatalf("paused = %v after a pause", v)
	}
	m.BudgetPaused("POST /media", false)
	if v := value(t, m, "mediaflow_swonkie_budget_paused", "endpoint", "POST /media"); v != 0 {
		t.Fatalf("paused = %v after the pause ended", v)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool not found in PATH")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	var buf bytes.Buffer
	for _, line := range strings.SplitAfter(string(body), "\n") {
		if strings.Contains(line, "mediaflow_swonkie_budget_") {
			buf.WriteString(line)
		}
	}
	if !strings.Contains(buf.String(), "# TYPE mediaflow_swonkie_budget_wait_seconds histogram") ||
		!strings.Contains(buf.String(), "# TYPE mediaflow_swonkie_budget_paused gauge") {
		t.Fatalf("scrape lacks the budget families:\n%s", buf.String())
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = &buf
	if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Fatalf("promtool check metrics (%v):\n%s", err, out)
	}
}

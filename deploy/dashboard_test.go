package deploy_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	dto "github.com/prometheus/client_model/go"

	"github.com/mediaflow/mediaflow/deploy"
	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
)

// knownMetrics returns every series name the metrics package exports, read
// from a live registry after every metric has been used, plus up. The
// dashboard and the alerts may use these and nothing else.
func knownMetrics(t *testing.T) map[string]bool {
	t.Helper()
	m := metrics.New(metrics.Options{Version: "test"})
	m.InitTaskTypes("media:create")
	m.PipelineFinished(metrics.StateFailed, "media:upload")
	m.SweepFinished(nil, time.Second, map[string]int{"stuck_failed": 1})
	m.APIRequest(context.Background(), "/v1/pipelines", http.MethodPost, http.StatusAccepted, time.Millisecond)
	m.WorkspacePaused("default", false)

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) }))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: m.InstrumentTransport(http.DefaultTransport,
		func(*http.Request) string { return "/media" },
		func(http.Header) (time.Duration, bool) { return time.Second, true })}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()

	pp := m.WatchPipelines(func(context.Context) (metrics.PipelineStats, error) { return metrics.PipelineStats{}, nil }, time.Hour)
	pp.Start()
	t.Cleanup(pp.Shutdown)
	rp := m.WatchRedis(func(context.Context) (metrics.RedisStats, error) {
		return metrics.RedisStats{Policies: map[string]int{"noeviction": 1}, MemoryKnown: true, Used: 1, Max: 2}, nil
	}, time.Hour)
	rp.Start()
	t.Cleanup(rp.Shutdown)
	r := redistest.New(t)
	conn := asynq.RedisClientOpt{Addr: r.Addr, DB: r.DB}
	ac := asynq.NewClient(conn)
	t.Cleanup(func() { _ = ac.Close() })
	if _, err := ac.Enqueue(asynq.NewTask("media:create", nil)); err != nil {
		t.Fatal(err)
	}
	insp := asynq.NewInspector(conn)
	t.Cleanup(func() { _ = insp.Close() })
	qp := m.WatchQueues(insp, time.Hour)
	qp.Start()
	t.Cleanup(qp.Shutdown)

	names := map[string]bool{"up": true}
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, f := range metricstest.Gather(t, m.Registry()) {
			names[f.GetName()] = true
			if f.GetType() == dto.MetricType_HISTOGRAM {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					names[f.GetName()+suffix] = true
				}
			}
		}
		if names["mediaflow_queue_size"] && names["mediaflow_pipelines"] && names["mediaflow_redis_memory_headroom_ratio"] {
			return names
		}
		if time.Now().After(deadline) {
			t.Fatal("queue and pipeline gauges never appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var (
	quotedRE   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	matchersRE = regexp.MustCompile(`\{[^}]*\}`)
	rangeRE    = regexp.MustCompile(`\[[^\]]*\]`)
	groupingRE = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	tokenRE    = regexp.MustCompile(`[0-9.][0-9A-Za-z_.]*|[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`)
	keywords   = map[string]bool{
		"and": true, "or": true, "unless": true, "bool": true, "offset": true,
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"inf": true, "nan": true, "Inf": true, "NaN": true,
	}
)

// metricNames lists the metric names a PromQL expression selects: the
// identifiers left once strings, label matchers, ranges, grouping clauses,
// function calls, keywords and numbers are set aside.
func metricNames(expr string) []string {
	s := quotedRE.ReplaceAllString(expr, `""`)
	s = matchersRE.ReplaceAllString(s, " ")
	s = rangeRE.ReplaceAllString(s, " ")
	s = groupingRE.ReplaceAllString(s, " ")
	var names []string
	for _, m := range tokenRE.FindAllStringSubmatch(s, -1) {
		tok := m[0]
		if m[1] != "" || tok[0] == '.' || (tok[0] >= '0' && tok[0] <= '9') || keywords[tok] {
			continue // a function, a number or a keyword
		}
		names = append(names, tok)
	}
	return names
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	cases := []struct {
		expr string
		want []string
	}{
		{`up{job="mediaflow"} == 0 or absent(up{job="mediaflow"})`, []string{"up", "up"}},
		{`histogram_quantile(0.95, sum by (type, le) (rate(a_bucket{x=~"$i"}[5m])))`, []string{"a_bucket"}},
		{`sum(rate(a_total{s="failed"}[15m])) / sum(rate(a_total[15m])) > 0.1 and sum(increase(b[1h])) >= 5`, []string{"a_total", "a_total", "b"}},
		{`time() - max(c{instance=~".*"}) > 1e9`, []string{"c"}},
		{`x / on (queue) group_left (state) y offset 5m`, []string{"x", "y"}},
	}
	for _, tc := range cases {
		if got := metricNames(tc.expr); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func dashboardPath() string { return filepath.FromSlash(deploy.DashboardFile) }

func TestDashboardVariables(t *testing.T) {
	t.Parallel()
	vars, err := deploy.DashboardVariables(dashboardPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range deploy.TemplateVariables {
		if i := sort.SearchStrings(vars, want); i == len(vars) || vars[i] != want {
			t.Errorf("dashboard lacks the $%s variable (has %v)", want, vars)
		}
	}
}

// TestDashboardQueries checks every panel query: it parses as PromQL once
// variables are substituted, it selects only metrics mediaflow exports (or
// up), it honours $instance, and queue panels honour $queue.
func TestDashboardQueries(t *testing.T) {
	t.Parallel()
	queries, err := deploy.DashboardQueries(dashboardPath())
	if err != nil {
		t.Fatal(err)
	}
	if len(queries) < 20 {
		t.Fatalf("only %d dashboard queries; the dashboard lost its panels?", len(queries))
	}
	known := knownMetrics(t)
	for _, q := range queries {
		names := metricNames(q.Expr)
		if len(names) == 0 {
			t.Errorf("panel %q %s: %q selects no metric", q.Panel, q.RefID, q.Raw)
		}
		for _, n := range names {
			if !known[n] {
				t.Errorf("panel %q %s uses %s, which mediaflow does not export", q.Panel, q.RefID, n)
			}
			if strings.HasPrefix(n, "mediaflow_queue_") && !strings.Contains(n, "_stats_") && !strings.Contains(q.Raw, `queue=~"$queue"`) {
				t.Errorf("panel %q %s: queue metric %s without queue=~\"$queue\"", q.Panel, q.RefID, n)
			}
		}
		if !strings.Contains(q.Raw, `instance=~"$instance"`) {
			t.Errorf("panel %q %s ignores $instance: %q", q.Panel, q.RefID, q.Raw)
		}
		// Every selector, not just one: a series from another job would
		// slip into the panel through the selector that forgot it.
		if sel, jobs := strings.Count(q.Raw, "{"), strings.Count(q.Raw, `job=~"$job"`); jobs == 0 || jobs < sel {
			t.Errorf("panel %q %s: %d selectors but %d match job=~\"$job\": %q", q.Panel, q.RefID, sel, jobs, q.Raw)
		}
		if strings.Contains(q.Raw, "increase(") && strings.Contains(q.Raw, "[$__rate_interval]") {
			t.Errorf("panel %q %s: increase over $__rate_interval changes with zoom; use rate, or increase over $__range or a fixed window: %q", q.Panel, q.RefID, q.Raw)
		}
	}

	// promtool parses each expression as a recording rule: the same PromQL
	// parser Prometheus runs queries with.
	var b strings.Builder
	b.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	for i, q := range queries {
		fmt.Fprintf(&b, "      - record: dashboard:query_%d\n        expr: %q\n", i, q.Expr)
	}
	path := filepath.Join(t.TempDir(), "dashboard_rules.yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	promtool(t, "check", "rules", path)
}

// Alert expressions select only exported metrics too.
func TestAlertRulesUseKnownMetrics(t *testing.T) {
	t.Parallel()
	var rules ruleFile
	readYAML(t, deploy.AlertRulesFile, &rules)
	known := knownMetrics(t)
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(r.Expr) {
				if !known[n] {
					t.Errorf("alert %s uses %s, which mediaflow does not export", r.Alert, n)
				}
			}
		}
	}
}

func TestSubstitute(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in, want string
		err      bool
	}{
		{in: `rate(x{instance=~"$instance"}[$__rate_interval])`, want: `rate(x{instance=~".*"}[1m])`},
		{in: `x{queue=~"${queue}",instance=~"[[instance]]"}[$__interval]`, want: `x{queue=~".*",instance=~".*"}[15s]`},
		{in: `x{queue=~"${queue:regex}"}`, want: `x{queue=~".*"}`},
		{in: `x{worker=~"$worker"}`, err: true},
	}
	for _, tc := range cases {
		got, err := deploy.Substitute(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("Substitute(%q) = %q, %v; want %q, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

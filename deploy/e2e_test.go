package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/deploy"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
)

// e2eFaults is the sandbox's fault plan: enough 5xx and 429s (with a
// Retry-After) that the error, retry and rate-limit panels have data.
const e2eFaults = `{"*":{"error5xx":0.05,"rateLimit":0.1,"retryAfter":1}}`

// TestDashboardAgainstLiveWorker is issue 4's "Done when": the worker and
// the sandbox run as the binaries they ship as, a real Prometheus scrapes
// the worker every second (loading alerts.yml), pipelines run through the
// sandbox with faults (some fail for good on an expired profile), and
// then every expression of the dashboard is sent to Prometheus' query API.
// Each must parse and return at least one sample that is not NaN: a
// histogram_quantile or a ratio over series that never moved answers NaN,
// which Grafana draws as an empty panel.
//
// The dashboard's $__rate_interval becomes 1m (deploy.Substitutions); the
// whole run lies inside that window and has tens of 1s scrapes, so every
// rate and increase has the samples it needs.
func TestDashboardAgainstLiveWorker(t *testing.T) {
	t.Parallel()
	promBin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("prometheus not found in PATH: run make test-deps (scripts/test-deps installs Debian's prometheus package)")
	}
	queries, err := deploy.DashboardQueries(dashboardPath())
	if err != nil {
		t.Fatal(err)
	}
	alertRules, err := filepath.Abs(filepath.FromSlash(deploy.AlertRulesFile))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	bins := buildCommands(t, "worker", "swonkie-sandbox")
	t.Logf("built the binaries in %v", time.Since(start).Round(time.Millisecond))

	r := redistest.New(t)

	// The sandbox, as its own process, on a port it picks.
	const apiID, apiKey = "e2e-app-id", "e2e-api-key"
	sb := startProc(t, "swonkie-sandbox", bins["swonkie-sandbox"], nil,
		"-addr", "127.0.0.1:0", "-api-id", apiID, "-api-key", apiKey, "-seed", "4",
		"-faults", e2eFaults, "-processing-delay", "300ms", "-publish-delay", "300ms")
	baseURL := sb.waitForLog(t, regexp.MustCompile(`api=(http://\S+/v2)`), 10*time.Second)
	healthy, expired := sandboxProfiles(t, baseURL, apiID, apiKey)

	root := t.TempDir()
	for i := range 3 {
		if err := testmedia.WritePNG(filepath.Join(root, fmt.Sprintf("m%d.png", i)), 16, 16, i); err != nil {
			t.Fatal(err)
		}
		if err := testmedia.WriteJPEG(filepath.Join(root, fmt.Sprintf("m%d.jpg", i)), 16, 16, i); err != nil {
			t.Fatal(err)
		}
	}

	// The worker, configured the way docker-compose.yml configures it, but
	// with a sweep every 2s so the sweep panels have data, and its HTTP API
	// on, through which the pipelines are published.
	metricsAddr, apiAddr := freeport.TestAddr(t), freeport.TestAddr(t)
	const apiToken = "e2e-token-0123456789abcdef"
	w := startProc(t, "worker", bins["worker"], []string{
		"REDIS_URL=" + r.URL, "SWONKIE_BASE_URL=" + baseURL, "SWONKIE_API_ID=" + apiID, "SWONKIE_API_KEY=" + apiKey,
		"MEDIA_ROOT=" + root, "METRICS_ADDR=" + metricsAddr, "SWEEP_SCHEDULE=@every 2s",
		"LOG_LEVEL=warn", "CONCURRENCY=10", "SWONKIE_RATE_LIMIT=500", "API_ADDR=" + apiAddr, "API_TOKENS=" + apiToken,
	})
	waitHTTP(t, w, "http://"+metricsAddr+"/readyz", 15*time.Second)
	checkFirstScrape(t, w, "http://"+metricsAddr+"/metrics", queries)

	// Prometheus scraping it every second.
	promAddr := freeport.TestAddr(t)
	promDir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %q
scrape_configs:
  # Not the bundled stack's job name: the dashboard and the alerts must
  # not depend on it.
  - job_name: mediaflow-worker
    static_configs:
      - targets: [%q]
`, alertRules, metricsAddr)
	cfgPath := filepath.Join(promDir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	prom := startProc(t, "prometheus", promBin, nil,
		"--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(promDir, "data"),
		"--web.listen-address="+promAddr, "--log.level=warn")
	api := &promAPI{base: "http://" + promAddr}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s\nprometheus log:\n%s\nsandbox log (last lines):\n%s",
				w.log.String(), prom.log.String(), lastLines(sb.log.String(), 40))
		}
	})
	waitHTTP(t, prom, api.base+"/-/ready", 20*time.Second)
	waitUntil(t, 20*time.Second, "Prometheus to scrape the worker", func() bool {
		w.alive(t)
		res, err := api.query(`up{job="mediaflow-worker"} == 1`)
		return err == nil && len(res) == 1
	})
	scrapingSince := time.Now()

	// Four waves of pipelines, 4s apart, so that every rate window sees
	// work start and finish. In each wave one pipeline targets an expired
	// profile: pre-flight would refuse it at once, so it comes from an
	// enqueuer without (PREFLIGHT=false), fails at attach, and compensation
	// deletes its media.
	client := tasks.NewClient(r.Client)
	t.Cleanup(func() { _ = client.Close() })
	unchecked := tasks.NewClient(r.Client, tasks.WithoutPreflight())
	t.Cleanup(func() { _ = unchecked.Close() })
	var ids []string
	failing := 0
	for wave := range 4 {
		if wave > 0 {
			time.Sleep(4 * time.Second)
		}
		for i := range 5 {
			n := wave*5 + i
			req := tasks.Request{
				Post:   &tasks.PostSpec{ProfileIDs: healthy[:min(len(healthy), 1+n%2)], Caption: fmt.Sprintf("e2e %d", n)},
				Action: tasks.ActionPublishNow,
			}
			ext := "png"
			if len(req.Post.ProfileIDs) > 1 {
				ext = "jpg" // Instagram takes JPEG only
			}
			for j := range 1 + n%3 {
				req.Media = append(req.Media, tasks.MediaSource{Source: fmt.Sprintf("m%d.%s", j, ext)})
			}
			if i == 4 {
				req.Post.ProfileIDs = []string{expired}
				failing++
				rec, _, err := unchecked.Publish(context.Background(), req)
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, rec.ID)
				continue
			}
			ids = append(ids, publishOverHTTP(t, "http://"+apiAddr, apiToken, req))
		}
		// A 404, so the API's error panel has a 4xx to show.
		if status := apiGet(t, "http://"+apiAddr+"/v1/pipelines/no-such-pipeline", apiToken); status != http.StatusNotFound {
			t.Errorf("GET an unknown pipeline: %d, want 404", status)
		}
		w.alive(t)
	}

	// Every pipeline ends, its cleanup done, and a sweep has succeeded.
	var states map[tasks.State]int
	waitUntil(t, 45*time.Second, "every pipeline to finish and a sweep to run", func() bool {
		w.alive(t)
		states = map[tasks.State]int{}
		for _, id := range ids {
			rec, err := client.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if !rec.State.Terminal() || rec.Cleanup == "pending" {
				return false
			}
			states[rec.State]++
		}
		sweeps, err := client.Sweeps(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range sweeps {
			if s.Error == "" {
				return true
			}
		}
		return false
	})
	if states[tasks.StateFailed] != failing || states[tasks.StateSucceeded] != len(ids)-failing {
		t.Errorf("pipelines ended %v, want %d failed and the rest succeeded", states, failing)
	}
	// Prometheus must hold a scrape taken after the last of it, and at
	// least 20s of scrapes in all.
	done := time.Now()
	waitUntil(t, 15*time.Second, "Prometheus to scrape the finished state", func() bool {
		res, err := api.query(`timestamp(up{job="mediaflow-worker"})`)
		if err != nil || len(res) != 1 {
			return false
		}
		ts, ok := res[0].float()
		return ok && ts > float64(done.UnixMilli())/1000+1 && time.Since(scrapingSince) > 20*time.Second
	})
	t.Logf("pipelines ran %v after %v of setup; Prometheus has scraped for %v",
		done.Sub(scrapingSince).Round(time.Second), scrapingSince.Sub(start).Round(time.Second), time.Since(scrapingSince).Round(time.Second))

	// Every dashboard expression, as Grafana would send it.
	for _, q := range queries {
		res, err := api.query(q.Expr)
		switch {
		case err != nil:
			t.Errorf("panel %q %s: %v\n\tquery: %s", q.Panel, q.RefID, err, q.Expr)
		case len(res) == 0:
			t.Errorf("panel %q %s returned no data\n\tquery: %s", q.Panel, q.RefID, q.Expr)
		case !anyNumber(res) && !idleInE2E(q.Expr):
			t.Errorf("panel %q %s returned only NaN (%d series)\n\tquery: %s", q.Panel, q.RefID, len(res), q.Expr)
		}
	}

	// The sandbox answers every 429 with Retry-After: 1, and the panel
	// must say 1 s (bucket bounds at whole seconds made it read 0.5 s).
	res, err := api.query(`histogram_quantile(0.5, sum by (le) (rate(mediaflow_swonkie_retry_after_seconds_bucket[1m])))`)
	if err != nil || len(res) != 1 {
		t.Errorf("Retry-After p50: %v, %v", res, err)
	} else if v, ok := res[0].float(); !ok || math.Abs(v-1) > 0.01 {
		t.Errorf("Retry-After p50 = %v with every 429 asking for 1s, want 1", res[0].Value[1])
	}

	// The alert rules evaluated against this data without an error.
	for _, rule := range api.rules(t) {
		if rule.Health != "ok" || rule.LastError != "" {
			t.Errorf("rule %s: health %q, error %q", rule.Name, rule.Health, rule.LastError)
		}
	}
	t.Logf("%d dashboard queries checked against %d pipelines (%d failed on purpose) in %v",
		len(queries), len(ids), failing, time.Since(start).Round(time.Second))
}

// publishOverHTTP publishes req through the worker's HTTP API and returns
// the new pipeline's id.
func publishOverHTTP(t *testing.T, base, token string, req tasks.Request) string {
	t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	hreq, err := http.NewRequest(http.MethodPost, base+"/v1/pipelines", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	hreq.Header.Set("Authorization", "Bearer "+token)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var rec tasks.Record
	if err := json.NewDecoder(resp.Body).Decode(&rec); err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /v1/pipelines: %d, %v", resp.StatusCode, err)
	}
	return rec.ID
}

func apiGet(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

// buildCommands builds the named commands of ./cmd into a temporary folder
// in one go invocation and returns their paths by name.
func buildCommands(t *testing.T, names ...string) map[string]string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("go not found in PATH: the end-to-end test builds the worker and the sandbox with it")
	}
	dir := t.TempDir()
	args := []string{"build", "-o", dir + string(filepath.Separator)}
	out := map[string]string{}
	for _, n := range names {
		args = append(args, "./cmd/"+n)
		out[n] = filepath.Join(dir, n)
	}
	cmd := exec.Command(goBin, args...)
	cmd.Dir = ".." // the module root
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

// proc is a program the test runs; it is killed when the test ends.
type proc struct {
	name   string
	log    *syncLog
	exited chan struct{}
	err    error
}

func startProc(t *testing.T, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, log: &syncLog{}, exited: make(chan struct{})}
	cmd := exec.Command(bin, args...)
	// Later entries win: the test's settings override the environment's.
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.exited
	})
	return p
}

// alive fails the test at once if the program exited on its own.
func (p *proc) alive(t *testing.T) {
	t.Helper()
	select {
	case <-p.exited:
		t.Fatalf("%s exited: %v\n%s", p.name, p.err, p.log.String())
	default:
	}
}

// waitForLog waits for a line of the program's output to match re and
// returns the first submatch.
func (p *proc) waitForLog(t *testing.T, re *regexp.Regexp, within time.Duration) string {
	t.Helper()
	var got string
	waitUntil(t, within, p.name+" to log "+re.String(), func() bool {
		p.alive(t)
		if m := re.FindStringSubmatch(p.log.String()); m != nil {
			got = m[1]
			return true
		}
		return false
	})
	return got
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

type syncLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %v waiting for %s", within, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitHTTP waits for url to answer 200 while p runs.
func waitHTTP(t *testing.T, p *proc, url string, within time.Duration) {
	t.Helper()
	c := &http.Client{Timeout: time.Second}
	waitUntil(t, within, url+" to answer 200", func() bool {
		p.alive(t)
		resp, err := c.Get(url)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// sandboxProfiles lists the sandbox's profiles through the Swonkie client,
// retrying the 5xx and 429s the fault plan injects, and returns the
// healthy ones and one that is not.
func sandboxProfiles(t *testing.T, baseURL, id, key string) (healthy []string, expired string) {
	t.Helper()
	api, err := swonkie.New(swonkie.Config{BaseURL: baseURL, APIID: id, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	var profiles []swonkie.Profile
	for attempt := 0; ; attempt++ {
		profiles, err = api.ListProfiles(context.Background())
		if err == nil {
			break
		}
		if attempt == 20 {
			t.Fatalf("list the sandbox's profiles: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range profiles {
		if p.StatusLevel == swonkie.StatusOK {
			healthy = append(healthy, p.ID)
		} else if expired == "" {
			expired = p.ID
		}
	}
	if len(healthy) == 0 || expired == "" {
		t.Fatalf("the sandbox needs healthy and expired profiles, has %+v", profiles)
	}
	return healthy, expired
}

// promAPI is the part of Prometheus' HTTP API the test uses.
type promAPI struct{ base string }

// sample is one element of an instant query's result: a vector's series
// or a scalar.
type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

func (s sample) float() (float64, bool) {
	str, ok := s.Value[1].(string)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(str, 64)
	return f, err == nil
}

func anyNumber(res []sample) bool {
	for _, s := range res {
		if f, ok := s.float(); ok && !math.IsNaN(f) {
			return true
		}
	}
	return false
}

// query runs an instant query now. A parse or evaluation error is
// returned with Prometheus' own message.
func (a *promAPI) query(expr string) ([]sample, error) {
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := a.get("/api/v1/query?"+url.Values{"query": {expr}}.Encode(), &body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s: %s", body.ErrorType, body.Error)
	}
	switch body.Data.ResultType {
	case "vector":
		var res []sample
		err := json.Unmarshal(body.Data.Result, &res)
		return res, err
	case "scalar":
		var s sample
		err := json.Unmarshal(body.Data.Result, &s.Value)
		return []sample{s}, err
	}
	return nil, fmt.Errorf("prometheus: result type %q, want vector or scalar", body.Data.ResultType)
}

type promRule struct {
	Name      string `json:"name"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// rules returns every rule Prometheus loaded; it fails the test if none
// did.
func (a *promAPI) rules(t *testing.T) []promRule {
	t.Helper()
	var body struct {
		Data struct {
			Groups []struct {
				Rules []promRule `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := a.get("/api/v1/rules", &body); err != nil {
		t.Fatal(err)
	}
	var out []promRule
	for _, g := range body.Data.Groups {
		out = append(out, g.Rules...)
	}
	if len(out) == 0 {
		t.Fatalf("Prometheus loaded no rules from %s", deploy.AlertRulesFile)
	}
	return out
}

func (a *promAPI) get(path string, v any) error {
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(a.base + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	// Prometheus answers a bad query with 400 and a JSON body that says why.
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("prometheus %s: HTTP %d: %.200s", path, resp.StatusCode, b)
	}
	return nil
}

// idleInE2E: series this run cannot fill, whose ratios and quantiles are
// NaN here because nothing was observed. The run sends no webhooks (the
// worker of this tree has no WEBHOOK_URL); their zero series must still be
// there, which the "no data" check above holds them to.
func idleInE2E(expr string) bool {
	return strings.Contains(expr, "mediaflow_webhook_")
}

// checkFirstScrape scrapes a worker that has just started, once its
// background gauges have had their first refresh, and requires every
// metric the dashboard uses to be in it: a panel whose series appears only
// after the first event says "No data" on a fresh deployment, where it
// should say 0.
func checkFirstScrape(t *testing.T, w *proc, url string, queries []deploy.Query) {
	t.Helper()
	var body string
	waitUntil(t, 15*time.Second, "the worker's gauges to be refreshed", func() bool {
		w.alive(t)
		resp, err := http.Get(url)
		if err != nil {
			return false
		}
		b, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if err != nil {
			return false
		}
		body = string(b)
		return !strings.Contains(body, "\nmediaflow_queue_stats_last_success_timestamp_seconds 0\n") &&
			!strings.Contains(body, "\nmediaflow_pipeline_stats_last_success_timestamp_seconds 0\n") &&
			strings.Contains(body, "\nmediaflow_queue_stats_last_success_timestamp_seconds ")
	})
	have := map[string]bool{"up": true}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		have[name] = true
	}
	missing := map[string]bool{}
	for _, q := range queries {
		for _, n := range metricNames(q.Expr) {
			if have[n] || missing[n] {
				continue
			}
			missing[n] = true
			if awaitsWiring(n) {
				continue
			}
			t.Errorf("panel %q uses %s, which is not in a new worker's first scrape", q.Panel, n)
		}
	}
	// A ratchet: once the worker wires a group, this fails until its
	// exemption is deleted, so the exemption cannot outlive its reason.
	for _, p := range awaitingWiring {
		still := false
		for n := range missing {
			still = still || strings.HasPrefix(n, p)
		}
		if !still {
			t.Errorf("the first scrape now has every %s* series the dashboard uses: delete %q from awaitingWiring", p, p)
		}
	}
	if _, ok := missing["mediaflow_queue_size"]; !ok && !strings.Contains(body, `asynq_queue_size{queue="mediaflow"}`) {
		t.Error(`the first scrape has mediaflow_queue_size but no asynq_queue_size{queue="mediaflow"}`)
	}
}

// awaitingWiring are the metric name prefixes whose first-scrape series
// need the worker (tasks.NewWorker) to name its label values:
// m.InitQueues(its queue names...) and m.InitEndpoint(method, endpoint)
// for each Swonkie endpoint it calls. Until then they appear with the
// first queued task and the first request.
var awaitingWiring = []string{}

func awaitsWiring(name string) bool {
	for _, p := range awaitingWiring {
		if strings.HasPrefix(name, p) {
			return true
		}
	}
	return false
}

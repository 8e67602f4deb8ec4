package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"

	"github.com/mediaflow/mediaflow/internal/logbuf"

	"github.com/mediaflow/mediaflow/internal/redistest"
)

// workerBin is the worker built once for the tests that run it as a
// separate process.
var workerBin string

// enqueueBin is the enqueue CLI, for tests of the front ends on a Redis
// deployment.
var enqueueBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mediaflow-worker-test-")
	if err != nil {
		panic(err)
	}
	workerBin = filepath.Join(dir, "worker")
	build := exec.Command("go", "build", "-o", workerBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build the worker: " + err.Error())
	}
	enqueueBin = filepath.Join(dir, "enqueue")
	build = exec.Command("go", "build", "-o", enqueueBin, "../enqueue")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build enqueue: " + err.Error())
	}
	deploymentsDir = filepath.Join(dir, "deployments")
	code := m.Run()
	stopDeployments()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func envOf(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestFailsFastWithOneLine(t *testing.T) {
	t.Parallel()
	creds := map[string]string{"SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key", "METRICS_ADDR": "off"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		code int
		want string
	}{
		{"no credentials", nil, map[string]string{}, 2, "SWONKIE_API_ID and SWONKIE_API_KEY (or WORKSPACES_FILE) are required"},
		{"Redis unreachable", []string{"-redis", "redis://127.0.0.1:1/0"}, creds, 1, "cannot reach Redis at redis://127.0.0.1:1/0"},
		{"password stays hidden", []string{"-redis", "redis://:hunter2@127.0.0.1:1/0"}, creds, 1, "cannot reach Redis at redis://:xxxxx@127.0.0.1:1/0"},
		{"bad Redis URL", []string{"-redis", "http://x"}, creds, 1, "REDIS_URL"},
		{"unknown flag", []string{"-bogus"}, creds, 2, "flag provided but not defined"},
		{"bad log format", nil, map[string]string{"SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key", "LOG_FORMAT": "xml"}, 2, "log format"},
		{"bad number in the environment", nil, map[string]string{"CONCURRENCY": "many"}, 2, `CONCURRENCY="many"`},
		{"bad queue weights", []string{"-queues", "mediaflow=high"}, creds, 2, "want name=weight pairs"},
		{"no mediaflow queue", []string{"-queues", "default=1"}, creds, 2, "serves neither"},
		{"bad sweep schedule", []string{"-sandbox", "-sweep", "sometimes"}, nil, 2, "sweep schedule"},
		{"retention not a duration", nil, map[string]string{"RETENTION": "a week"}, 2, `RETENTION="a week"`},
		{"retention under a second", []string{"-retention", "500ms"}, creds, 2, "RETENTION 500ms: want a duration of at least 1s"},
		{"stuck-after under a second", []string{"-stuck-after", "0s"}, creds, 2, "STUCK_AFTER 0s"},
		{"pending kick under a second", nil, map[string]string{"PENDING_KICK_AFTER": "10ms", "SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key"}, 2, "PENDING_KICK_AFTER 10ms"},
		{"no webhook slots", []string{"-webhook-concurrency", "0"}, creds, 2, "WEBHOOK_CONCURRENCY 0: want at least 1"},
		{"bad webhook secret", nil, map[string]string{"WEBHOOK_SECRET": "hunter2", "SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key"}, 2, "WEBHOOK_SECRET: each secret is whsec_"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if len(args) > 0 && args[len(args)-1] == "REDIS" {
				args = append(args[:len(args)-1:len(args)-1], redistest.New(t).URL)
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), args, envOf(tt.env), &out, &errOut)
			if code != tt.code {
				t.Errorf("exit %d, want %d; stderr %q", code, tt.code, errOut.String())
			}
			lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
			last := lines[len(lines)-1]
			if !strings.Contains(last, tt.want) {
				t.Errorf("stderr %q does not say %q", errOut.String(), tt.want)
			}
			if strings.Contains(errOut.String(), "hunter2") {
				t.Error("the Redis password was printed")
			}
		})
	}
}

func TestHealthMetricsAndGracefulShutdown(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	addr := freeport.TestAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut logbuf.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-sandbox", "-redis", r.URL, "-metrics-addr", addr, "-log-format", "console"}, envOf(nil), &out, &errOut)
	}()
	get := func(path string) (int, string) {
		var resp *http.Response
		var err error
		for range 100 {
			if resp, err = http.Get("http://" + addr + path); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, errOut.String())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz %d %q", code, body)
	}
	if code, body := get("/readyz"); code != 200 {
		t.Errorf("/readyz %d %q", code, body)
	}
	if code, body := get("/metrics"); code != 200 || !strings.Contains(body, "mediaflow_build_info") || !strings.Contains(body, `mediaflow_tasks_processed_total{outcome="success",type="media:upload"} 0`) {
		t.Errorf("/metrics %d:\n%.2000s", code, body)
	}
	r.Stop(t)
	if code, _ := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with Redis gone: %d", code)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after a stop signal\n%s", code, errOut.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the worker did not stop")
	}
	if !strings.Contains(errOut.String(), "worker stopped") {
		t.Errorf("no clean stop logged:\n%s", errOut.String())
	}
}

// The main job with nothing installed: the demo ends with every pipeline
// where it should be.
func TestDemo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		env  map[string]string
		want string
	}{
		{"embedded Redis", nil, "embedded, in memory"},
		{"REDIS_URL", map[string]string{"REDIS_URL": "REDIS"}, "redis    redis://"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{}
			for k, v := range tt.env {
				if v == "REDIS" {
					v = redistest.New(t).URL
				}
				env[k] = v
			}
			var out, errOut bytes.Buffer
			start := time.Now()
			args := []string{"-demo"}
			if u := env["REDIS_URL"]; u != "" {
				args = append(args, "-redis", u)
			}
			code := run(context.Background(), args, envOf(env), &out, &errOut)
			if code != 0 {
				t.Fatalf("demo exit %d\n%s\n%s", code, out.String(), errOut.String())
			}
			s := out.String()
			for _, want := range []string{tt.want, "same pipeline, nothing new enqueued", "succeeded", "failed", "Instagram MEDIA takes jpeg", "refused   expired profile", "profile check: nothing was created", "0 duplicates",
				"post published", "post draft  media kept", "\n  next: ", "bin/enqueue publish --media sunrise.jpg --profile '"} {
				if !strings.Contains(s, want) {
					t.Errorf("demo output lacks %q:\n%s", want, s)
				}
			}
			// The post in the words enqueue --wait uses, never Swonkie's
			// stage (SCHEDULED for a post being published now).
			for _, stage := range []string{"SCHEDULED", "PUBLISHED", "IDEA"} {
				if strings.Contains(s, stage) {
					t.Errorf("demo output says %s:\n%s", stage, s)
				}
			}
			if took := time.Since(start); took > time.Minute {
				t.Errorf("demo took %s", took)
			}
		})
	}
}

// A newcomer finds the ids a publish request names with -profiles.
func TestListProfiles(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"-sandbox", "-profiles"}, envOf(nil), &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(out.String(), "instagram") || !strings.Contains(out.String(), "EXPIRED") {
		t.Fatalf("profiles table:\n%s", out.String())
	}
}

// Every pipeline that retried a call says so in the demo's table, the
// failed one beside its reason.
func TestDemoReportNotesEveryRetry(t *testing.T) {
	t.Parallel()
	sb, err := sandbox.New(sandboxOptions(true))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	retried := []tasks.Event{{At: now, Step: tasks.StepAttach, Outcome: "rate_limited"}, {At: now, Step: tasks.StepAttach, Outcome: "ok"}}
	recs := []*tasks.Record{
		{State: tasks.StateSucceeded, History: retried, CreatedAt: now, UpdatedAt: now},
		{State: tasks.StateFailed, History: append(retried, tasks.Event{At: now, Step: tasks.StepUpload, Outcome: "retry"}),
			Error: &tasks.StepError{Step: tasks.StepAttach, Message: "attach: create post: 400 expired profile"}, CreatedAt: now, UpdatedAt: now},
		{State: tasks.StateSucceeded, CreatedAt: now, UpdatedAt: now},
	}
	cases := []demoCase{{title: "a"}, {title: "b"}, {title: "c"}}
	var out bytes.Buffer
	report(&out, cases, recs, sb)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("report:\n%s", out.String())
	}
	for i, want := range []string{"1 retried call(s)", "2 retried call(s); attach: create post: 400 expired profile", ""} {
		if got := lines[i+1]; want != "" && !strings.HasSuffix(got, want) || want == "" && strings.Contains(got, "retried") {
			t.Errorf("row %d %q, want a note %q", i+1, got, want)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"

	"github.com/mediaflow/mediaflow/internal/logbuf"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

const testToken = "worker-test-token-0123456789"

// The API never starts open, and a bad API setting stops the worker before
// it connects to anything (Redis here is unreachable on purpose).
func TestAPIConfigFailsFast(t *testing.T) {
	t.Parallel()
	unreachable := []string{"-redis", "redis://127.0.0.1:1/0", "-metrics-addr", "off"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"API_ADDR without API_TOKENS", nil, map[string]string{"API_ADDR": "127.0.0.1:0"}, "API_ADDR is set but API_TOKENS is empty"},
		{"API_TOKENS of commas and blanks", nil, map[string]string{"API_ADDR": "127.0.0.1:0", "API_TOKENS": " , ,"}, "API_ADDR is set but API_TOKENS is empty"},
		{"-api-addr flag without tokens", []string{"-api-addr", "127.0.0.1:0"}, nil, "API_TOKENS is empty"},
		{"a guessable token", nil, map[string]string{"API_ADDR": "127.0.0.1:0", "API_TOKENS": testToken + ",abc"}, "token 2 of API_TOKENS is 3 characters"},
		{"negative body limit", nil, map[string]string{"API_ADDR": "127.0.0.1:0", "API_TOKENS": testToken, "API_MAX_BODY": "-5"}, "API_MAX_BODY -5: want at least 0"},
		{"-api-only without API_ADDR", []string{"-api-only"}, map[string]string{"API_TOKENS": testToken}, "-api-only serves the enqueue API, but API_ADDR is empty"},
		{"negative AUTH_FAILURE_LIMIT", nil, map[string]string{"API_ADDR": "127.0.0.1:0", "API_TOKENS": testToken, "AUTH_FAILURE_LIMIT": "-1"}, "AUTH_FAILURE_LIMIT -1: want at least 0"},
		{"a trusted proxy by name", nil, map[string]string{"API_ADDR": "127.0.0.1:0", "API_TOKENS": testToken, "API_TRUSTED_PROXIES": "10.0.0.0/8,proxy.internal"}, `API_TRUSTED_PROXIES: trusted proxy "proxy.internal"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"SWONKIE_API_ID": "id", "SWONKIE_API_KEY": "key"}
			for k, v := range tt.env {
				env[k] = v
			}
			var out, errOut bytes.Buffer
			code := run(context.Background(), append(append([]string{}, unreachable...), tt.args...), envOf(env), &out, &errOut)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr %q", code, errOut.String())
			}
			msg := strings.TrimSpace(errOut.String())
			if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q, want one line saying %q", msg, tt.want)
			}
			if strings.Contains(msg, testToken) {
				t.Errorf("stderr shows a token: %q", msg)
			}
		})
	}
}

// workerProcess is run() in the background with its stderr.
type workerProcess struct {
	cancel context.CancelFunc
	done   chan int
	errOut *logbuf.Buffer
}

func startRun(t *testing.T, args []string, env map[string]string) *workerProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &workerProcess{cancel: cancel, done: make(chan int, 1), errOut: &logbuf.Buffer{}}
	go func() { p.done <- run(ctx, args, envOf(env), io.Discard, p.errOut) }()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop signals the worker and checks it stops cleanly.
func (p *workerProcess) stop(t *testing.T) {
	t.Helper()
	if p.cancel == nil {
		return
	}
	p.cancel()
	p.cancel = nil
	select {
	case code := <-p.done:
		if code != 0 {
			t.Errorf("exit %d after a stop signal\n%s", code, p.errOut.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the worker did not stop")
	}
	if !strings.Contains(p.errOut.String(), "worker stopped") {
		t.Errorf("no clean stop logged:\n%s", p.errOut.String())
	}
}

// apiCall sends one request to the API at addr, retrying until it listens.
func apiCall(t *testing.T, addr, method, path, token, body string) (int, []byte, http.Header) {
	t.Helper()
	var resp *http.Response
	var err error
	for range 200 {
		req, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func writeSample(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	b, err := os.ReadFile(filepath.Join("samples", "checkers.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "checkers.png"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// apiTestRequest is a draft of a sample file to the in-process sandbox's
// first profile (its ids come from the seed, so a twin sandbox has them).
func apiTestRequest(t *testing.T) string {
	t.Helper()
	sb, err := sandbox.New(sandboxOptions(false))
	if err != nil {
		t.Fatal(err)
	}
	return `{"media":[{"source":"checkers.png"}],"post":{"profileIds":["` + sb.Profiles()[0].ID + `"],"caption":"over HTTP"},"action":"draft"}`
}

// API_ADDR serves the API beside the worker, over the same client (local
// sources are checked against MEDIA_ROOT), and stops with it.
func TestWorkerServesTheAPI(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	addr := freeport.TestAddr(t)
	root := writeSample(t)
	p := startRun(t, []string{"-sandbox", "-redis", r.URL, "-metrics-addr", "off"},
		map[string]string{"API_ADDR": addr, "API_TOKENS": "old-token-0123456789abc, " + testToken, "MEDIA_ROOT": root})

	status, body, hdr := apiCall(t, addr, http.MethodPost, "/v1/pipelines", testToken, apiTestRequest(t))
	if status != http.StatusAccepted {
		t.Fatalf("publish: %d %s\n%s", status, body, p.errOut.String())
	}
	var rec tasks.Record
	_ = json.Unmarshal(body, &rec)
	if status, body, _ := apiCall(t, addr, http.MethodGet, hdr.Get("Location"), "old-token-0123456789abc", ""); status != http.StatusOK || !bytes.Contains(body, []byte(rec.ID)) {
		t.Errorf("GET with the other token: %d %s", status, body)
	}
	if status, _, _ := apiCall(t, addr, http.MethodGet, "/v1/pipelines", "", ""); status != http.StatusUnauthorized {
		t.Errorf("no token: %d", status)
	}
	outside := strings.Replace(apiTestRequest(t), "checkers.png", "/etc/hostname", 1)
	if status, body, _ := apiCall(t, addr, http.MethodPost, "/v1/pipelines", testToken, outside); status != http.StatusBadRequest || !bytes.Contains(body, []byte("media[0].source")) {
		t.Errorf("a file outside MEDIA_ROOT: %d %s", status, body)
	}
	// The worker behind the API runs the pipeline.
	c := tasks.NewClient(r.Client)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if done, err := c.Wait(ctx, rec.ID, 100*time.Millisecond, nil); err != nil || done.State != tasks.StateSucceeded {
		t.Errorf("the pipeline: %v %+v", err, done)
	}
	p.stop(t)
	if strings.Contains(p.errOut.String(), testToken) {
		t.Error("the log holds a token")
	}
	if !strings.Contains(p.errOut.String(), `"route":"/v1/pipelines"`) {
		t.Errorf("no access log:\n%s", p.errOut.String())
	}
	if _, err := http.Get("http://" + addr + "/v1/openapi.yaml"); err == nil {
		t.Error("the API still answers after the worker stopped")
	}
}

// -api-only is a front process: no Swonkie credentials, no task runs; the
// work it accepts waits in the queue for the workers.
func TestAPIOnlyQueuesAndRunsNothing(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	addr := freeport.TestAddr(t)
	root := writeSample(t)
	p := startRun(t, []string{"-api-only", "-redis", r.URL, "-metrics-addr", "off"},
		map[string]string{"API_ADDR": addr, "API_TOKENS": testToken, "MEDIA_ROOT": root})
	status, body, _ := apiCall(t, addr, http.MethodPost, "/v1/pipelines", testToken, apiTestRequest(t))
	if status != http.StatusAccepted {
		t.Fatalf("publish: %d %s\n%s", status, body, p.errOut.String())
	}
	var rec tasks.Record
	_ = json.Unmarshal(body, &rec)
	time.Sleep(500 * time.Millisecond)
	if status, body, _ := apiCall(t, addr, http.MethodGet, "/v1/pipelines/"+rec.ID, testToken, ""); status != http.StatusOK || !bytes.Contains(body, []byte(`"state":"pending"`)) {
		t.Errorf("the pipeline moved without a worker: %d %s", status, body)
	}
	info, err := asynq.NewInspectorFromRedisClient(r.Client).GetQueueInfo(tasks.QueuePipeline)
	if err != nil || info.Pending != 1 || info.Active != 0 {
		t.Errorf("queue: %+v %v, want its one upload task pending", info, err)
	}
	p.stop(t)
	if strings.Contains(p.errOut.String(), "SWONKIE") {
		t.Errorf("-api-only asked for Swonkie credentials:\n%s", p.errOut.String())
	}
}

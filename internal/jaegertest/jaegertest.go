// Package jaegertest runs a real Jaeger (v2, the OpenTelemetry-collector
// based all-in-one) for tests: in-memory storage, its OTLP/HTTP receiver
// and its query API on free loopback ports, nothing else. Tests send spans
// through tracingsdk.Setup with the endpoint it gives, exactly as a worker
// would, and read the traces back through the query API.
//
// Jaeger is a Go tool dependency of the module in jaegertool/ (a module of
// its own, so that Jaeger's hundreds of dependencies never constrain
// mediaflow's): `go tool -n jaeger` builds it into the Go build cache once
// (minutes, cold) and then only finds it there (seconds). Shared starts
// one Jaeger per test binary, on first use; it dies with the test binary.
package jaegertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// Jaeger is a running Jaeger.
type Jaeger struct {
	// OTLPEndpoint is the OTLP/HTTP base URL, the value of
	// OTEL_EXPORTER_OTLP_ENDPOINT that sends spans here.
	OTLPEndpoint string
	// QueryURL is the query API's root (/api/traces/{id}, /api/services).
	QueryURL string

	log    *syncBuffer
	exited chan struct{}
	err    error
}

var (
	shared     *Jaeger
	sharedErr  error
	sharedOnce sync.Once
)

// Shared returns this test binary's Jaeger, starting it on the first call.
// BuildTime and StartTime say what that cost.
func Shared(tb testing.TB) *Jaeger {
	tb.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if sharedErr != nil {
		tb.Fatal(sharedErr)
	}
	select {
	case <-shared.exited:
		tb.Fatalf("jaegertest: Jaeger exited: %v\n%s", shared.err, shared.log.String())
	default:
	}
	return shared
}

// Costs of the shared Jaeger, for tests to log: finding (or building) the
// binary, and starting it until its query API answered.
var BuildTime, StartTime time.Duration

func start() (*Jaeger, error) {
	t0 := time.Now()
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	BuildTime = time.Since(t0)
	t1 := time.Now()
	var j *Jaeger
	// Ports are free a moment before Jaeger binds them; another process
	// may win one in between, so a start that fails is tried again.
	for attempt := 0; attempt < 3; attempt++ {
		if j, err = run(bin); err == nil {
			StartTime = time.Since(t1)
			return j, nil
		}
	}
	return nil, err
}

// binary is the path of the jaeger program, built by the Go toolchain in
// jaegertool/ when the build cache does not hold it yet.
func binary() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("jaegertest: cannot locate the jaegertool module")
	}
	cmd := exec.Command("go", "tool", "-n", "jaeger")
	cmd.Dir = filepath.Join(filepath.Dir(file), "jaegertool")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("jaegertest: build Jaeger (go tool -n jaeger in %s): %v\n%s", cmd.Dir, err, stderr.String())
	}
	return strings.TrimSpace(string(out)), nil
}

// config keeps Jaeger to its in-memory store, its OTLP/HTTP receiver and
// its query API, with its own telemetry off: nothing listens on a fixed
// port, so test binaries of several packages run side by side.
const config = `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
extensions:
  jaeger_query:
    storage:
      traces: mem
    http:
      endpoint: %s
    grpc:
      endpoint: %s
  jaeger_storage:
    backends:
      mem:
        memory:
          max_traces: 100000
receivers:
  otlp:
    protocols:
      http:
        endpoint: %s
exporters:
  jaeger_storage_exporter:
    trace_storage: mem
`

func run(bin string) (*Jaeger, error) {
	var addrs [3]string
	for i := range addrs {
		a, err := freeport.Addr()
		if err != nil {
			return nil, err
		}
		addrs[i] = a
	}
	query, grpc, otlp := addrs[0], addrs[1], addrs[2]
	dir, err := os.MkdirTemp("", "jaegertest")
	if err != nil {
		return nil, err
	}
	cfg := filepath.Join(dir, "jaeger.yaml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(config, query, grpc, otlp)), 0o600); err != nil {
		return nil, err
	}
	j := &Jaeger{OTLPEndpoint: "http://" + otlp, QueryURL: "http://" + query, log: &syncBuffer{}, exited: make(chan struct{})}
	started := make(chan error, 1)
	go j.supervise(bin, cfg, dir, started)
	if err := <-started; err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-j.exited:
			return nil, fmt.Errorf("jaegertest: Jaeger exited at start: %v\n%s", j.err, j.log.String())
		default:
		}
		if resp, err := http.Get(j.QueryURL + "/api/services"); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK && j.receiving() {
				return j, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("jaegertest: Jaeger did not answer within 30s\n%s", j.log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiving reports whether the OTLP receiver takes connections.
func (j *Jaeger) receiving() bool {
	resp, err := http.Post(j.OTLPEndpoint+"/v1/traces", "application/json", strings.NewReader("{}"))
	if err != nil {
		return false
	}
	_ = resp.Body.Close()
	return true
}

// supervise starts Jaeger and waits for it from one locked OS thread
// until it exits. The parent-death signal goes to Jaeger when the thread
// that started it ends, and a locked thread ends only with the test
// binary: Jaeger never outlives the tests, however they end.
func (j *Jaeger) supervise(bin, cfg, dir string, started chan<- error) {
	runtime.LockOSThread()
	cmd := exec.Command(bin, "--config", "file:"+cfg)
	cmd.Stdout, cmd.Stderr = j.log, j.log
	cmd.SysProcAttr = dieWithParent()
	if err := cmd.Start(); err != nil {
		started <- fmt.Errorf("jaegertest: start %s: %w", bin, err)
		close(j.exited)
		return
	}
	started <- nil
	j.err = cmd.Wait()
	_ = os.RemoveAll(dir)
	close(j.exited)
}

// Log is what Jaeger printed so far.
func (j *Jaeger) Log() string { return j.log.String() }

// Tracing is an SDK exporting to this Jaeger, set up by tracingsdk.Setup
// from OTEL_* settings as a worker's would be, with service name service.
// It is shut down (flushed) when the test ends; call ForceFlush before
// reading a trace back.
func (j *Jaeger) Tracing(tb testing.TB, service string, b tracingsdk.Build) *tracingsdk.Tracing {
	tb.Helper()
	env := map[string]string{
		"OTEL_EXPORTER_OTLP_ENDPOINT": j.OTLPEndpoint,
		"OTEL_SERVICE_NAME":           service,
		"OTEL_TRACES_SAMPLER":         "always_on",
	}
	tr, err := tracingsdk.Setup(context.Background(), func(k string) string { return env[k] }, b)
	if err != nil {
		tb.Fatal(err)
	}
	if !tr.Enabled() {
		tb.Fatal("jaegertest: tracing is off with an OTLP endpoint set")
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			tb.Errorf("jaegertest: shut tracing down: %v", err)
		}
	})
	return tr
}

// Trace polls the query API for traceID until it holds at least
// minSpans spans (Jaeger stores what it receives within moments) and
// returns it; it fails the test after 15 s.
func (j *Jaeger) Trace(tb testing.TB, traceID string, minSpans int) *Trace {
	tb.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for {
		tr, err := j.fetch(traceID)
		switch {
		case err == nil && len(tr.Spans) >= minSpans:
			return tr
		case err == nil:
			last = fmt.Sprintf("%d spans", len(tr.Spans))
		default:
			last = err.Error()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("jaegertest: trace %s: want at least %d spans within 15s; last: %s", traceID, minSpans, last)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (j *Jaeger) fetch(traceID string) (*Trace, error) {
	resp, err := http.Get(j.QueryURL + "/api/traces/" + traceID)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return &Trace{}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /api/traces/%s: %d %s", traceID, resp.StatusCode, body)
	}
	var answer struct {
		Data []rawTrace `json:"data"`
	}
	if err := json.Unmarshal(body, &answer); err != nil {
		return nil, fmt.Errorf("GET /api/traces/%s: %w", traceID, err)
	}
	if len(answer.Data) == 0 {
		return &Trace{}, nil
	}
	return answer.Data[0].trace(), nil
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

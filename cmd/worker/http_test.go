package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
)

// TestIdleConnectionsDoNotStarveReadyz: 2,000 connections that never send
// a request, and keep-alive connections left idle, cannot hold the slots
// /readyz needs. The cap (64 here, so the test stays light) holds all along.
func TestIdleConnectionsDoNotStarveReadyz(t *testing.T) {
	t.Parallel()
	// keepAlive stays under the cap: more clients than slots arriving at
	// once is overload, where some must fail.
	const maxConns, silent, keepAlive = 64, 2000, 48
	r := redistest.New(t)
	h := opsHandler(metrics.New(metrics.Options{}), []readyCheck{redisReady(r.Client)}, zerolog.Nop())
	srv, cl := serve(testListener(t), h, maxConns, zerolog.Nop())
	t.Cleanup(func() { _ = srv.Close() })
	addr := cl.Addr().String()

	// Keep-alive clients that made one request and went quiet.
	idleClient := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: keepAlive, MaxConnsPerHost: keepAlive}}
	t.Cleanup(idleClient.CloseIdleConnections)
	done := make(chan error, keepAlive)
	for range keepAlive {
		go func() {
			resp, err := idleClient.Get("http://" + addr + "/healthz")
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			done <- err
		}()
	}
	for range keepAlive {
		if err := <-done; err != nil {
			t.Fatalf("keep-alive request: %v", err)
		}
	}
	// Connections that send nothing at all.
	var conns []net.Conn
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	peak := 0
	for i := range silent {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial %d: %v", i, err)
		}
		conns = append(conns, c)
		peak = max(peak, cl.held())
	}

	client := &http.Client{Timeout: time.Second}
	start := time.Now()
	resp, err := client.Get("http://" + addr + "/readyz")
	if err != nil {
		t.Fatalf("/readyz with %d idle connections: %v (after %s)", silent+keepAlive, err, time.Since(start))
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
		t.Errorf("/readyz: %d %q", resp.StatusCode, body)
	}
	peak = max(peak, cl.held())
	if peak > maxConns {
		t.Errorf("held %d connections at once, cap %d", peak, maxConns)
	}
	if ev := cl.evictions(); ev < silent-maxConns {
		t.Errorf("%d idle connections closed, want at least %d", ev, silent-maxConns)
	}
	t.Logf("/readyz answered in %s; peak %d held, %d evicted", time.Since(start), peak, cl.evictions())
}

// TestBusyConnectionsAreNotEvicted: a connection with a request in
// progress keeps its slot; a new one waits for a free slot instead.
func TestBusyConnectionsAreNotEvicted(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		<-release
		_, _ = io.WriteString(w, "slow done")
	})
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fast") })
	srv, cl := serve(testListener(t), mux, 1, zerolog.Nop())
	t.Cleanup(func() { _ = srv.Close() })
	base := "http://" + cl.Addr().String()

	slow := make(chan string, 1)
	go func() {
		resp, err := http.Get(base + "/slow")
		if err != nil {
			slow <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		slow <- string(b)
	}()
	for cl.held() == 0 || func() bool { cl.mu.Lock(); defer cl.mu.Unlock(); return cl.victimLocked() != nil }() {
		time.Sleep(time.Millisecond)
	}
	fast := make(chan string, 1)
	go func() {
		c := &http.Client{Transport: &http.Transport{}}
		resp, err := c.Get(base + "/fast")
		if err != nil {
			fast <- err.Error()
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fast <- string(b)
	}()
	select {
	case got := <-fast:
		t.Fatalf("second request served while the only slot was busy: %q", got)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if got := <-slow; got != "slow done" {
		t.Errorf("busy request: %q", got)
	}
	if got := <-fast; got != "fast" {
		t.Errorf("waiting request: %q", got)
	}
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	secret := errors.New("dial tcp 10.1.2.3:6379: auth hunter2 refused")
	ok := func(context.Context) error { return nil }
	tests := []struct {
		name    string
		checks  []readyCheck
		code    int
		body    string
		mustLog string
	}{
		{"all pass", []readyCheck{{"redis", ok}, {"store", ok}}, 200, "ok\n", ""},
		{"one fails", []readyCheck{{"redis", ok}, {"store", func(context.Context) error { return secret }}}, 503, "not ready: store\n", "hunter2"},
		{"both fail", []readyCheck{{"redis", func(context.Context) error { return secret }}, {"store", func(context.Context) error { return secret }}}, 503, "not ready: redis, store\n", "10.1.2.3"},
		{"a check that ignores its deadline", []readyCheck{{"redis", ok}, {"stuck", func(context.Context) error { select {} }}}, 503, "not ready: stuck\n", "deadline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &logbuf.Buffer{}
			h := readyHandler(tt.checks, 200*time.Millisecond, zerolog.New(logs))
			rec := &recorder{header: http.Header{}}
			start := time.Now()
			h(rec, mustRequest(t, "/readyz"))
			if took := time.Since(start); took > 2*time.Second {
				t.Errorf("answered after %s, deadline 200ms", took)
			}
			if rec.code != tt.code || rec.body.String() != tt.body {
				t.Errorf("got %d %q, want %d %q", rec.code, rec.body.String(), tt.code, tt.body)
			}
			if tt.mustLog != "" && !strings.Contains(logs.String(), tt.mustLog) {
				t.Errorf("the cause is not logged for the operator: %s", logs.String())
			}
		})
	}
}

// TestReadyzRedisHung: a Redis that accepts and never answers makes
// /readyz say "not ready: redis" within its 1 s deadline, without its
// address.
func TestReadyzRedisHung(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	rc := redis.NewClient(&redis.Options{Addr: l.Addr().String(), Password: "hunter2", MaxRetries: -1})
	t.Cleanup(func() { rc.Close() })
	h := opsHandler(metrics.New(metrics.Options{}), []readyCheck{redisReady(rc)}, zerolog.Nop())
	rec := &recorder{header: http.Header{}}
	start := time.Now()
	h.ServeHTTP(rec, mustRequest(t, "/readyz"))
	took := time.Since(start)
	if rec.code != 503 || rec.body.String() != "not ready: redis\n" {
		t.Errorf("got %d %q", rec.code, rec.body.String())
	}
	// Room for a loaded machine; without the deadline the probe waits for
	// go-redis's own timeouts, several seconds.
	if took > readyTimeout+1500*time.Millisecond {
		t.Errorf("answered after %s; the deadline is %s", took, readyTimeout)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	if b := rec.body.String(); strings.Contains(b, port) || strings.Contains(b, "hunter2") {
		t.Errorf("body shows the address or password: %q", b)
	}
}

// TestHTTPErrorLogIsJSON: net/http's own complaints come out as zerolog
// lines, not plain text.
func TestHTTPErrorLogIsJSON(t *testing.T) {
	t.Parallel()
	logs := &logbuf.Buffer{}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.WriteHeader(500) // net/http logs the superfluous call
	})
	srv, cl := serve(testListener(t), mux, 8, zerolog.New(logs))
	t.Cleanup(func() { _ = srv.Close() })
	resp, err := http.Get("http://" + cl.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(2 * time.Second)
	for !strings.Contains(logs.String(), "superfluous") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	out := strings.TrimSpace(logs.String())
	if !strings.HasPrefix(out, "{") || !strings.Contains(out, `"component":"http"`) || !strings.Contains(out, "superfluous") {
		t.Errorf("http: line not through zerolog: %q", out)
	}
}

func TestServerSettings(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.MetricsAddr != "127.0.0.1:9400" || c.APIMaxConns != 256 {
		t.Errorf("defaults: METRICS_ADDR %q, API_MAX_CONNS %d", c.MetricsAddr, c.APIMaxConns)
	}
	if _, err := parseConfig([]string{"-api-max-conns", "0"}, envOf(nil)); err == nil || !strings.Contains(err.Error(), "API_MAX_CONNS 0: want at least 1") {
		t.Errorf("-api-max-conns 0: %v", err)
	}
	srv, cl := serve(testListener(t), http.NotFoundHandler(), 8, zerolog.Nop())
	defer srv.Close()
	_ = cl
	if srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.ReadHeaderTimeout == 0 {
		t.Errorf("a server timeout is unset: %+v", srv)
	}
}

type recorder struct {
	header http.Header
	code   int
	body   strings.Builder
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.body.Write(b)
}

func mustRequest(t *testing.T, path string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://worker"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func TestSourceSettings(t *testing.T) {
	t.Parallel()
	c, err := parseConfig(nil, envOf(map[string]string{"SPOOL_DIR": "/var/spool/x", "SPOOL_MAX_BYTES": "1048576", "SOURCE_MIN_RATE": "0", "SOURCE_RATE_WINDOW": "10s"}))
	if err != nil {
		t.Fatal(err)
	}
	sc := c.sourceConfig()
	if sc.SpoolDir != "/var/spool/x" || sc.SpoolTotalBytes != 1<<20 || sc.MinRate >= 0 || sc.RateWindow != 10*time.Second {
		t.Errorf("source config %+v", sc)
	}
	d, err := parseConfig(nil, envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	if sc := d.sourceConfig(); sc.SpoolTotalBytes != 4<<30 || sc.MinRate != 64<<10 || sc.RateWindow != 30*time.Second {
		t.Errorf("defaults %+v", sc)
	}
	for _, args := range [][]string{{"-spool-max-bytes", "0"}, {"-source-min-rate", "-1"}, {"-source-rate-window", "0s"}} {
		if _, err := parseConfig(args, envOf(nil)); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}

// TestMissingSpoolDirFailsTheStart: one line, before any work is taken.
func TestMissingSpoolDirFailsTheStart(t *testing.T) {
	t.Parallel()
	var out, errOut strings.Builder
	code := run(context.Background(), []string{"-sandbox", "-redis", redistest.New(t).URL, "-metrics-addr", "off", "-spool-dir", "/nonexistent/spool"}, envOf(nil), &out, &errOut)
	lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
	if code != 1 || !strings.Contains(lines[len(lines)-1], "SPOOL_DIR /nonexistent/spool is not a directory") {
		t.Errorf("exit %d, stderr %q", code, errOut.String())
	}
}

// testListener is a listener on a free loopback port, closed with the
// test.
func testListener(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

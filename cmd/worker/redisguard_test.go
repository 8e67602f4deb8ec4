package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/internal/redisurl"
)

// Issue 20, item 5: a worker started on a Redis that may evict exits with
// one line naming the setting, unless told to run anyway.
func TestEvictingRedisStopsTheStart(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	r.Own(t)
	if err := r.Client.ConfigSet(context.Background(), "maxmemory-policy", "allkeys-lru").Err(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-sandbox"}, {"-api-only", "-api-addr", "127.0.0.1:0", "-api-tokens", "tok-123456789012345678901234"}} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(args, "-redis", r.URL, "-metrics-addr", "off"), envOf(nil), &out, &errOut)
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		if code != 1 || len(lines) != 1 {
			t.Fatalf("%v: exit %d with %d lines, want 1 and one line:\n%s", args, code, len(lines), errOut.String())
		}
		for _, want := range []string{"worker: Redis at " + r.Addr + " has maxmemory-policy allkeys-lru", "noeviction", "REDIS_ALLOW_EVICTION"} {
			if !strings.Contains(lines[0], want) {
				t.Errorf("%v: %q does not say %q", args, lines[0], want)
			}
		}
	}
}

// With REDIS_ALLOW_EVICTION the same worker runs, says loudly what it
// risks, and shows the policy in its metrics; /readyz is 200.
func TestAllowEvictionRunsLoudly(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	r.Own(t)
	if err := r.Client.ConfigSet(context.Background(), "maxmemory-policy", "volatile-lru").Err(); err != nil {
		t.Fatal(err)
	}
	w := runInProcess(t, r, map[string]string{"REDIS_ALLOW_EVICTION": "true"})
	if code, body := w.get("/readyz"); code != 200 {
		t.Errorf("/readyz %d %q", code, body)
	}
	waitUntil(t, "the policy metric", func() bool {
		_, body := w.get("/metrics")
		return strings.Contains(body, `mediaflow_redis_maxmemory_policy{policy="volatile-lru"} 1`) &&
			strings.Contains(body, "mediaflow_redis_memory_used_bytes ")
	})
	if logs := w.errOut.String(); !strings.Contains(logs, "may EVICT pipeline records") || !strings.Contains(logs, "volatile-lru") {
		t.Errorf("no loud warning:\n%s", logs)
	}
	w.stop(t)
}

// /readyz follows Redis under a running worker: 503 when the policy
// changes to one that evicts or when Redis refuses writes, 200 again once
// it is put right.
func TestReadyzFollowsRedisConfiguration(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	r.Own(t)
	ctx := context.Background()
	w := runInProcess(t, r, nil)
	set := func(k, v string) {
		t.Helper()
		if err := r.Client.ConfigSet(ctx, k, v).Err(); err != nil {
			t.Fatal(err)
		}
	}
	ready := func(wantCode int, wantBody string) {
		t.Helper()
		if code, body := w.get("/readyz"); code != wantCode || body != wantBody {
			t.Errorf("/readyz %d %q, want %d %q", code, body, wantCode, wantBody)
		}
	}
	ready(200, "ok\n")
	set("maxmemory-policy", "allkeys-lru")
	ready(503, "not ready: redis-policy\n")
	set("maxmemory-policy", "noeviction")
	ready(200, "ok\n")

	nodes, err := rdb.Memory(ctx, r.Client)
	if err != nil {
		t.Fatal(err)
	}
	set("maxmemory", strconv.FormatInt(nodes[0].Used/2, 10)) // full: every write is refused
	ready(503, "not ready: redis-writes\n")
	if !strings.Contains(w.errOut.String(), "OOM") {
		t.Errorf("the refusal is not logged:\n%s", w.errOut.String())
	}
	set("maxmemory", "0")
	ready(200, "ok\n")
	w.stop(t)
}

// inProcess is a worker run by run() in this process, against the
// sandbox, with its ops endpoints on a free port.
type inProcess struct {
	addr   string
	errOut *logbuf.Buffer
	cancel context.CancelFunc
	done   chan int
	t      *testing.T
}

func runInProcess(t *testing.T, r *redistest.Redis, env map[string]string) *inProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &inProcess{addr: freeport.TestAddr(t), errOut: &logbuf.Buffer{}, cancel: cancel, done: make(chan int, 1), t: t}
	go func() {
		w.done <- run(ctx, []string{"-sandbox", "-redis", r.URL, "-metrics-addr", w.addr, "-sweep", "off"}, envOf(env), io.Discard, w.errOut)
	}()
	t.Cleanup(func() {
		cancel()
		<-w.done
	})
	return w
}

func (w *inProcess) get(path string) (int, string) {
	w.t.Helper()
	var resp *http.Response
	var err error
	for range 100 {
		if resp, err = http.Get("http://" + w.addr + path); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		w.t.Fatalf("GET %s: %v\n%s", path, err, w.errOut.String())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (w *inProcess) stop(t *testing.T) {
	t.Helper()
	w.cancel()
	select {
	case code := <-w.done:
		w.done <- code
		if code != 0 {
			t.Fatalf("exit %d\n%s", code, w.errOut.String())
		}
	case <-time.After(45 * time.Second):
		t.Fatal("the worker did not stop")
	}
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// On Sentinel and on a cluster the guard reads the servers that hold the
// data (the master; every master) and its checks pass on their defaults.
func TestRedisGuardOnSentinelAndCluster(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		url     func(t *testing.T) string
		masters int
	}{
		{"sentinel", func(t *testing.T) string { return startedSentinel(t).URL }, 1},
		{"cluster", func(t *testing.T) string { return startedCluster(t).URL }, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rc, err := redisurl.NewClient(tt.url(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = rc.Close() })
			ctx := context.Background()
			g := redisGuard{rc: rc}
			// Other tests fail these servers over; the checks must pass once
			// a master serves.
			var last error
			waitUntil(t, "the guard's checks to pass", func() bool {
				last = g.checkAtStart(ctx, zerolog.Nop())
				for _, c := range g.readyChecks() {
					if err := c.check(ctx); err != nil && last == nil {
						last = fmt.Errorf("%s: %w", c.name, err)
					}
				}
				return last == nil
			})
			s, err := g.stats(ctx)
			if err != nil || s.Policies["noeviction"] != tt.masters || !s.MemoryKnown || s.Used <= 0 {
				t.Errorf("stats %+v, %v; want %d masters with noeviction", s, err, tt.masters)
			}
			nodes, _, err := g.memory(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, n := range nodes {
				if n.Addr == "" || n.Addr == "FailoverClient" {
					t.Errorf("a server is named %q", n.Addr)
				}
			}
		})
	}
}

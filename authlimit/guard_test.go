package authlimit

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
)

// bundle is one test's Guard on its own Redis, with its log, its metrics
// and summary windows the test ends by hand.
type bundle struct {
	g      *Guard
	redis  *redistest.Redis
	logs   *logbuf.Buffer
	m      *metrics.Metrics
	timers *manualTimers
}

func setup(t *testing.T, perMinute int) *bundle {
	t.Helper()
	b := &bundle{redis: redistest.New(t), logs: &logbuf.Buffer{}, m: metrics.New(metrics.Options{}), timers: &manualTimers{}}
	trusted, err := ParseTrustedProxies("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	b.g, err = New(b.redis.Client, Config{PerMinute: perMinute, TrustedProxies: trusted, Logger: zerolog.New(b.logs), Metrics: b.m})
	if err != nil {
		t.Fatal(err)
	}
	b.g.sum.after = b.timers.after
	return b
}

// manualTimers stands in for time.AfterFunc: windows end when fire says.
type manualTimers struct {
	mu sync.Mutex
	fs []func()
}

func (m *manualTimers) after(_ time.Duration, f func()) stopper {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fs = append(m.fs, f)
	return stopFunc(func() bool { return true })
}

func (m *manualTimers) fire() {
	m.mu.Lock()
	fs := m.fs
	m.fs = nil
	m.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

type stopFunc func() bool

func (f stopFunc) Stop() bool { return f() }

// from is a request through the trusted proxy on 127.0.0.1 for client.
func from(client string) *http.Request {
	r, _ := http.NewRequest(http.MethodGet, "http://x/v1/pipelines", nil)
	r.RemoteAddr = "127.0.0.1:40000"
	r.Header.Set("X-Forwarded-For", client)
	return r
}

func (b *bundle) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, raw := range strings.Split(strings.TrimSpace(b.logs.String()), "\n") {
		if raw == "" {
			continue
		}
		var l map[string]any
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		out = append(out, l)
	}
	return out
}

// PerMinute failures pass as 401s; the next is a 429 that says how long,
// and so is a good token from that client; another client is not held.
func TestGuardThrottlesAClientThatFails(t *testing.T) {
	t.Parallel()
	b := setup(t, 5)
	attacker, other := "203.0.113.9", "198.51.100.7"
	for i := range 5 {
		if _, throttled := b.g.Failed(from(attacker), metrics.AuthSurfaceAPI); throttled {
			t.Fatalf("failure %d was throttled; the limit is 5", i+1)
		}
	}
	for range 3 {
		ra, throttled := b.g.Failed(from(attacker), metrics.AuthSurfaceUI)
		if !throttled || ra < 1 || ra > 12 {
			t.Fatalf("failure past the limit: throttled=%v Retry-After %d, want about 12 s", throttled, ra)
		}
	}
	if ra, throttled := b.g.Throttled(from(attacker), metrics.AuthSurfaceAPI); !throttled || ra < 1 || ra > 12 {
		t.Fatalf("a good token from the throttled client: throttled=%v Retry-After %d", throttled, ra)
	}
	if _, throttled := b.g.Throttled(from(other), metrics.AuthSurfaceAPI); throttled {
		t.Fatal("another client was throttled")
	}
	if _, throttled := b.g.Failed(from(other), metrics.AuthSurfaceAPI); throttled {
		t.Fatal("another client's first failure was throttled")
	}
	// The same /64 is the same client.
	for range 5 {
		b.g.Failed(from("2001:db8:5:6::1"), metrics.AuthSurfaceAPI)
	}
	if _, throttled := b.g.Failed(from("2001:db8:5:6:ffff::2"), metrics.AuthSurfaceAPI); !throttled {
		t.Error("a fresh address in the same /64 escaped the limit")
	}

	want := `
# HELP mediaflow_auth_refused_total Authentication attempts refused, by surface (api, ui) and reason (invalid: 401; throttled: 429, the client address failed too often).
# TYPE mediaflow_auth_refused_total counter
mediaflow_auth_refused_total{reason="invalid",surface="api"} 11
mediaflow_auth_refused_total{reason="invalid",surface="ui"} 0
mediaflow_auth_refused_total{reason="throttled",surface="api"} 2
mediaflow_auth_refused_total{reason="throttled",surface="ui"} 3
`
	if err := testutil.GatherAndCompare(b.m.Registry(), strings.NewReader(want), "mediaflow_auth_refused_total"); err != nil {
		t.Error(err)
	}
	// Only failures wrote to Redis, and what they wrote expires.
	keys := b.redis.Client.Keys(t.Context(), "*").Val()
	if len(keys) != 3 {
		t.Errorf("Redis holds %v; want one key per failing client", keys)
	}
	for _, k := range keys {
		if !strings.HasPrefix(k, "mediaflow:authfail:") || b.redis.Client.PTTL(t.Context(), k).Val() <= 0 {
			t.Errorf("key %q: want a mediaflow:authfail: key that expires", k)
		}
	}
}

// A flood of refusals is two lines a window: the first at once, with its
// client, then a summary of the rest naming the busiest client. Nothing
// is written for a window with no more refusals, and no token or path
// reaches the log.
func TestGuardSummarizesRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t, 10)
	for range 40 {
		b.g.Failed(from("203.0.113.9"), metrics.AuthSurfaceAPI)
	}
	for range 3 {
		b.g.Failed(from("198.51.100.7"), metrics.AuthSurfaceUI)
	}
	lines := b.lines(t)
	if len(lines) != 1 || lines[0]["client"] != "203.0.113.9" || lines[0]["surface"] != "api" {
		t.Fatalf("during the window: %v, want the first refusal alone", lines)
	}
	b.timers.fire()
	lines = b.lines(t)
	if len(lines) != 2 {
		t.Fatalf("after the window: %d lines, want 2:\n%s", len(lines), b.logs.String())
	}
	s := lines[1]
	for k, v := range map[string]any{"refused": 42.0, "throttled": 30.0, "clients": 2.0, "busiest_client": "203.0.113.9",
		"busiest_client_refused": 39.0, "surfaces": "api=39,ui=3", "level": "warn"} {
		if s[k] != v {
			t.Errorf("summary %s = %v, want %v", k, s[k], v)
		}
	}
	b.timers.fire() // a window with nothing in it says nothing
	if n := len(b.lines(t)); n != 2 {
		t.Errorf("an empty window wrote a line: %d lines", n)
	}
	// The next refusal opens a new window, and Close writes what it holds.
	b.g.Failed(from("198.51.100.7"), metrics.AuthSurfaceUI)
	b.g.Failed(from("198.51.100.7"), metrics.AuthSurfaceUI)
	b.g.Close()
	if lines = b.lines(t); len(lines) != 4 || lines[3]["refused"] != 1.0 {
		t.Errorf("after Close: %v", lines)
	}
	if strings.Contains(b.logs.String(), "/v1/") {
		t.Errorf("the log names a path:\n%s", b.logs.String())
	}
}

// Without Redis the attempts are judged on their token alone, and the log
// says so once a window; a limit of 0 needs no Redis, and a nil Guard
// does nothing.
func TestGuardWithoutRedis(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	b.redis.Stop(t)
	for range 10 {
		if _, throttled := b.g.Failed(from("203.0.113.9"), metrics.AuthSurfaceAPI); throttled {
			t.Fatal("throttled without Redis")
		}
		if _, throttled := b.g.Throttled(from("203.0.113.9"), metrics.AuthSurfaceAPI); throttled {
			t.Fatal("throttled without Redis")
		}
	}
	b.g.Close()
	// One question failed; the others were not asked for a while.
	lines := b.lines(t)
	if len(lines) != 2 || !strings.Contains(lines[0]["message"].(string), "Redis cannot be asked") || lines[1]["refused"] != 10.0 {
		t.Errorf("want one line about Redis and a summary of 10 refusals:\n%s", b.logs.String())
	}

	off, err := New(nil, Config{PerMinute: 0, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, throttled := off.Failed(from("203.0.113.9"), metrics.AuthSurfaceAPI); throttled {
			t.Fatal("a limit of 0 throttled")
		}
	}
	var none *Guard
	if _, throttled := none.Failed(from("x"), metrics.AuthSurfaceAPI); throttled {
		t.Fatal("a nil Guard throttled")
	}
	none.Close()
	if _, err := New(nil, Config{PerMinute: 5}); err == nil {
		t.Error("a limit without Redis was accepted")
	}
	if _, err := New(b.redis.Client, Config{PerMinute: -1}); err == nil {
		t.Error("a negative limit was accepted")
	}
}

// Workers on one Redis count failures together: a client over its limit
// on one worker is refused by another at its first wrong token, and from
// then on that worker refuses its right token too.
func TestGuardIsFleetWide(t *testing.T) {
	t.Parallel()
	a := setup(t, 5)
	b, err := New(a.redis.Client, Config{PerMinute: 5, TrustedProxies: a.g.trusted, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	const attacker = "203.0.113.9"
	for range 5 {
		a.g.Failed(from(attacker), metrics.AuthSurfaceAPI)
	}
	if _, throttled := b.Failed(from(attacker), metrics.AuthSurfaceAPI); !throttled {
		t.Fatal("the other worker let a sixth failure count as a 401")
	}
	if _, throttled := b.Throttled(from(attacker), metrics.AuthSurfaceAPI); !throttled {
		t.Fatal("the other worker let the right token through from a throttled client")
	}
}

// A client that never failed here costs no question to Redis: its good
// credentials pass even with Redis gone, and nothing is logged. A
// suspect stays one for a minute after its last failure.
func TestSuspects(t *testing.T) {
	t.Parallel()
	b := setup(t, 3)
	b.redis.Stop(t)
	if _, throttled := b.g.Throttled(from("198.51.100.7"), metrics.AuthSurfaceAPI); throttled {
		t.Fatal("a clean client was throttled")
	}
	b.g.Close()
	if out := b.logs.String(); out != "" {
		t.Fatalf("a clean client's request asked Redis:\n%s", out)
	}

	s := newSuspects()
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	s.mark("a", t0)
	for at, want := range map[time.Duration]bool{0: true, 59 * time.Second: true, time.Minute: false} {
		if got := s.has("a", t0.Add(at)); got != want {
			t.Errorf("suspect at +%v: %v, want %v", at, got, want)
		}
	}
	if s.has("b", t0) {
		t.Error("an unmarked client is a suspect")
	}
	// Past maxSuspects everyone is a suspect, until some expire.
	for i := range maxSuspects {
		s.mark(strconv.Itoa(i), t0.Add(30*time.Second))
	}
	if !s.has("never-seen", t0.Add(30*time.Second)) {
		t.Error("with the table full, an unknown client is not a suspect")
	}
	if s.has("never-seen", t0.Add(2*time.Minute)) {
		t.Error("once the table emptied, an unknown client is still a suspect")
	}
}

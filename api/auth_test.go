package api

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestNewRefusesToBuildAnOpenAPI(t *testing.T) {
	t.Parallel()
	client := tasks.NewClient(redistest.New(t).Client)
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name   string
		tokens []string
		noTok  bool
		want   string
	}{
		{"no tokens", nil, true, "no bearer token configured"},
		{"only empty tokens", []string{"", ""}, true, "no bearer token configured"},
		{"a short token", []string{tokenA, "short"}, false, "token 2 of API_TOKENS is 5 characters"},
		{"a token with white space", []string{"token with spaces 0123456789"}, false, "white space"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := New(client, Config{Tokens: tt.tokens})
			if err == nil || h != nil {
				t.Fatalf("New built a handler (%v)", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			if errors.Is(err, ErrNoToken) != tt.noTok {
				t.Errorf("errors.Is(%v, ErrNoToken) = %v", err, !tt.noTok)
			}
			for _, tok := range tt.tokens {
				if len(tok) > 5 && strings.Contains(err.Error(), tok) {
					t.Errorf("the error %q quotes a token", err)
				}
			}
		})
	}
	if _, err := New(nil, Config{Tokens: []string{tokenA}}); err == nil {
		t.Error("New without a client built a handler")
	}
	if _, err := New(client, Config{Tokens: []string{tokenA}, MaxBody: -1}); err == nil {
		t.Error("New took a negative body limit")
	}
	if _, err := New(client, Config{Tokens: []string{tokenA}, RateLimit: -1}); err == nil {
		t.Error("New took a negative rate limit")
	}
}

// Every route but the spec refuses a request without a good token, with
// a WWW-Authenticate challenge, and queues nothing.
func TestAuthFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	const id = "0193a000-0000-7000-8000-000000000000"
	routes := []call{
		{method: http.MethodPost, path: "/v1/pipelines", body: validRequest("x")},
		{method: http.MethodPost, path: "/v1/pipelines/validate", body: validRequest("x")},
		{method: http.MethodPost, path: "/v1/pipelines/bulk", body: `{"action":"cancel","filter":{},"dryRun":true}`},
		{method: http.MethodGet, path: "/v1/operations/" + id},
		{method: http.MethodGet, path: "/v1/pipelines"},
		{method: http.MethodGet, path: "/v1/pipelines/" + id},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/cancel"},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/webhook/redeliver"},
		{method: http.MethodGet, path: "/v1/workspaces"},
		{method: http.MethodPost, path: "/v1/workspaces/default/pause"},
		{method: http.MethodPost, path: "/v1/workspaces/default/resume"},
		// Unknown paths and methods answer 401 too: no probing without a token.
		{method: http.MethodGet, path: "/v1/nothing-here"},
		{method: http.MethodDelete, path: "/v1/pipelines/" + id},
	}
	creds := []struct {
		name      string
		token     string
		auth      string
		challenge string
	}{
		{"missing header", "-", "", `Bearer realm="mediaflow"`},
		{"basic scheme", "-", "Basic " + tokenA, `Bearer realm="mediaflow"`},
		{"token without scheme", "-", tokenA, `Bearer realm="mediaflow"`},
		{"bearer without token", "-", "Bearer ", `Bearer realm="mediaflow"`},
		{"wrong token", "token-c-not-configured-0000", "", `Bearer realm="mediaflow", error="invalid_token"`},
		{"a prefix of a good token", tokenA[:len(tokenA)-1], "", `Bearer realm="mediaflow", error="invalid_token"`},
		{"a good token plus more", tokenA + "x", "", `Bearer realm="mediaflow", error="invalid_token"`},
	}
	for _, cr := range creds {
		for _, rt := range routes {
			t.Run(cr.name+" "+rt.method+" "+rt.path, func(t *testing.T) {
				rt.token, rt.auth = cr.token, cr.auth
				r := w.do(t, rt)
				if r.status != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401; body %s", r.status, r.body)
				}
				if got := r.header.Get("WWW-Authenticate"); got != cr.challenge {
					t.Errorf("WWW-Authenticate %q, want %q", got, cr.challenge)
				}
				if p := r.problem(t); p.Type != typeUnauthorized {
					t.Errorf("problem type %q", p.Type)
				}
				if strings.Contains(string(r.body), tokenA[:10]) {
					t.Errorf("the answer echoes the token: %s", r.body)
				}
				w.assertNothingQueued(t)
			})
		}
	}
	if strings.Contains(w.logs.String(), tokenA[:10]) || strings.Contains(w.logs.String(), "token-c") {
		t.Errorf("the access log holds a token:\n%s", w.logs.String())
	}
}

// Both configured tokens work, so clients can move from one to the other;
// the scheme is case-insensitive.
func TestRotatedTokensBothWork(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	for _, auth := range []string{"Bearer " + tokenA, "Bearer " + tokenB, "bearer " + tokenB, "BEARER  " + tokenA} {
		r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines", auth: auth})
		if r.status != http.StatusOK {
			t.Errorf("%q: status %d, want 200; %s", auth[:7], r.status, r.body)
		}
	}
	// The access log names the token's slot, never the token.
	logs := w.logs.String()
	if !strings.Contains(logs, `"token":1`) || !strings.Contains(logs, `"token":2`) {
		t.Errorf("the access log does not name both token slots:\n%s", logs)
	}
	if strings.Contains(logs, tokenA) || strings.Contains(logs, tokenB) {
		t.Errorf("the access log holds a token:\n%s", logs)
	}

	// Dropping a token from the configuration revokes it.
	rotated := newWorld(t, worldOptions{tokens: []string{tokenB}})
	if r := rotated.do(t, call{method: http.MethodGet, path: "/v1/pipelines", token: tokenA}); r.status != http.StatusUnauthorized {
		t.Errorf("a removed token: status %d, want 401", r.status)
	}
	if r := rotated.do(t, call{method: http.MethodGet, path: "/v1/pipelines", token: tokenB}); r.status != http.StatusOK {
		t.Errorf("the remaining token: status %d, want 200", r.status)
	}
}

// Each token has its own budget; a refused request says when to come back
// and queues nothing; bad tokens spend no one's budget.
func TestRateLimitPerToken(t *testing.T) {
	t.Parallel()
	const id = "0193a000-0000-7000-8000-000000000000"
	routes := []call{
		{method: http.MethodPost, path: "/v1/pipelines", body: validRequest("x")},
		{method: http.MethodPost, path: "/v1/pipelines/validate", body: validRequest("x")},
		{method: http.MethodPost, path: "/v1/pipelines/bulk", body: `{"action":"cancel","filter":{},"dryRun":true}`},
		{method: http.MethodGet, path: "/v1/operations/" + id},
		{method: http.MethodGet, path: "/v1/pipelines"},
		{method: http.MethodGet, path: "/v1/pipelines/" + id},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/cancel"},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/webhook/redeliver"},
		{method: http.MethodGet, path: "/v1/workspaces"},
		{method: http.MethodPost, path: "/v1/workspaces/default/pause"},
		{method: http.MethodPost, path: "/v1/workspaces/default/resume"},
	}
	for _, rt := range routes {
		t.Run(rt.method+" "+rt.path, func(t *testing.T) {
			t.Parallel()
			// One request per 1000 s: the second is refused for certain.
			w := newWorld(t, worldOptions{rateLimit: 0.001})
			for range 5 {
				if r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines", token: "token-c-not-configured-0000"}); r.status != http.StatusUnauthorized {
					t.Fatalf("bad token: %d", r.status)
				}
			}
			first := w.do(t, rt)
			if first.status == http.StatusTooManyRequests {
				t.Fatalf("the first request was refused; bad tokens spent the budget")
			}
			keysBefore := w.keys(t)
			second := w.do(t, rt)
			if second.status != http.StatusTooManyRequests {
				t.Fatalf("the second request: %d, want 429", second.status)
			}
			if p := second.problem(t); p.Type != typeRateLimited {
				t.Errorf("problem type %q", p.Type)
			}
			ra, err := strconv.Atoi(second.header.Get("Retry-After"))
			if err != nil || ra < 900 || ra > 1000 {
				t.Errorf("Retry-After %q, want about 1000 s", second.header.Get("Retry-After"))
			}
			if keys := w.keys(t); len(keys) != len(keysBefore) {
				t.Errorf("a refused request changed Redis: %v, was %v", keys, keysBefore)
			}
			// The other token has a budget of its own.
			rt.token = tokenB
			if r := w.do(t, rt); r.status == http.StatusTooManyRequests {
				t.Errorf("token B was refused for token A's requests")
			}
		})
	}
}

func TestKeyringMatchesOnlyWholeTokens(t *testing.T) {
	t.Parallel()
	k := newKeyring([]string{tokenA, tokenB}, nil, 0, 1)
	for tok, want := range map[string]int{
		tokenA: 0, tokenB: 1, "": -1, tokenA[:8]: -1, tokenA + tokenB: -1, strings.ToUpper(tokenA): -1,
	} {
		if got := k.match(tok); got != want {
			t.Errorf("match(%q) = %d, want %d", tok, got, want)
		}
	}
}

// A client sending wrong tokens is held back after AUTH_FAILURE_LIMIT of
// them: 429 with Retry-After, even for a right token (a guess must not be
// told apart by its answer), while a client at another address still gets
// in. The log holds a summary, not a line per attempt.
func TestFailedAuthenticationsAreThrottled(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	w := newWorld(t, worldOptions{authLimit: 10, metrics: m})
	const attacker, other = "127.0.0.2", "127.0.0.1"
	statuses := map[int]int{}
	for i := range 40 {
		r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines", token: "wrong-token-" + strconv.Itoa(i) + "-0123456789", from: attacker})
		statuses[r.status]++
		switch {
		case i < 10 && r.status != http.StatusUnauthorized:
			t.Fatalf("wrong token %d: %d, want 401 within the limit", i+1, r.status)
		case i >= 10 && r.status != http.StatusTooManyRequests:
			t.Fatalf("wrong token %d: %d, want 429 past the limit", i+1, r.status)
		case i >= 10:
			if p := r.problem(t); p.Type != typeAuthThrottled {
				t.Errorf("problem type %q", p.Type)
			}
			if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 || ra > 6 {
				t.Errorf("Retry-After %q, want 1 to 6 s (one failure every 6 s)", r.header.Get("Retry-After"))
			}
		}
	}
	if r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines", from: attacker}); r.status != http.StatusTooManyRequests {
		t.Errorf("the right token from the throttled address: %d, want 429", r.status)
	}
	if r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines", body: validRequest("x"), from: other}); r.status != http.StatusAccepted {
		t.Errorf("the right token from another address: %d, want 202; %s", r.status, r.body)
	}
	w.guard.Close()

	var about []string
	for _, l := range strings.Split(strings.TrimSpace(w.logs.String()), "\n") {
		if strings.Contains(l, attacker) || strings.Contains(l, `"status":401`) || strings.Contains(l, `"status":429`) {
			about = append(about, l)
		}
	}
	if len(about) == 0 || len(about) > 3 {
		t.Errorf("%d log lines about 41 refused attempts, want 1 to 3:\n%s", len(about), w.logs.String())
	}
	if !strings.Contains(w.logs.String(), `"refused":40`) {
		t.Errorf("the summary does not count the 40 refusals after the first:\n%s", w.logs.String())
	}
	if strings.Contains(w.logs.String(), "wrong-token") {
		t.Error("the log holds a token")
	}
	want := `
# HELP mediaflow_auth_refused_total Authentication attempts refused, by surface (api, ui) and reason (invalid: 401; throttled: 429, the client address failed too often).
# TYPE mediaflow_auth_refused_total counter
mediaflow_auth_refused_total{reason="invalid",surface="api"} 10
mediaflow_auth_refused_total{reason="invalid",surface="ui"} 0
mediaflow_auth_refused_total{reason="throttled",surface="api"} 31
mediaflow_auth_refused_total{reason="throttled",surface="ui"} 0
`
	if err := testutil.GatherAndCompare(m.Registry(), strings.NewReader(want), "mediaflow_auth_refused_total"); err != nil {
		t.Error(err)
	}
}

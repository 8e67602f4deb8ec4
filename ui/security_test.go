package ui

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/rs/zerolog"
)

// Every answer of the pages carries every security header, whatever the
// page and whatever the status: the login form, a redirect, a 404, a
// refused form, the static files.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	rec := w.publish(t, "headers", tasks.ActionPublishNow, w.profile)
	b := w.browser(t)
	anon := w.browser(t)
	b.mustLogin(tokenA)
	tests := []struct {
		name   string
		b      *browser
		method string
		path   string
		status int
		html   bool
	}{
		{"login form", anon, http.MethodGet, "/ui/login", http.StatusOK, true},
		{"list without a session", anon, http.MethodGet, "/ui/", http.StatusSeeOther, false},
		{"refused login", anon, http.MethodPost, "/ui/login", http.StatusUnauthorized, true},
		{"list", b, http.MethodGet, "/ui/", http.StatusOK, true},
		{"detail", b, http.MethodGet, "/ui/pipelines/" + rec.ID, http.StatusOK, true},
		{"unknown pipeline", b, http.MethodGet, "/ui/pipelines/" + tasks.PipelineID("nobody"), http.StatusNotFound, true},
		{"unknown page", b, http.MethodGet, "/ui/nowhere", http.StatusNotFound, true},
		{"cancel without CSRF", b, http.MethodPost, "/ui/pipelines/" + rec.ID + "/cancel", http.StatusForbidden, true},
		{"script", anon, http.MethodGet, "/ui/static/app.js", http.StatusOK, false},
		{"style", anon, http.MethodGet, "/ui/static/app.css", http.StatusOK, false},
		{"missing static file", anon, http.MethodGet, "/ui/static/nope.js", http.StatusNotFound, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var form url.Values
			if tt.method == http.MethodPost {
				form = url.Values{"token": {"wrong-token-0123456789"}}
			}
			a := tt.b.do(tt.method, tt.path, form, nil)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", a.status, tt.status, a.body)
			}
			want := map[string]string{
				"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
					"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
				"X-Content-Type-Options": "nosniff",
				"Referrer-Policy":        "no-referrer",
				"X-Frame-Options":        "DENY",
			}
			for k, v := range want {
				if got := a.header.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if a.header.Get("Strict-Transport-Security") != "" {
				t.Error("HSTS over plain HTTP: browsers ignore it, and it would pin a proxy's choice")
			}
			if !tt.html {
				return
			}
			if ct := a.header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
				t.Errorf("Content-Type %q", ct)
			}
			if cc := a.header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control %q, want no-store for a page of pipeline data", cc)
			}
			noInline(t, a.body)
		})
	}
}

var (
	inlineScript  = regexp.MustCompile(`<script(?:\s[^>]*)?>`)
	inlineHandler = regexp.MustCompile(`\son[a-z]+\s*=`)
	inlineStyle   = regexp.MustCompile(`<style|\sstyle\s*=`)
)

// noInline checks a page needs nothing the CSP forbids: every script is a
// file, no attribute holds code, no style is inline.
func noInline(t *testing.T, body string) {
	t.Helper()
	for _, tag := range inlineScript.FindAllString(body, -1) {
		if !strings.Contains(tag, ` src="/ui/static/`) {
			t.Errorf("inline script %q", tag)
		}
	}
	if m := inlineHandler.FindString(body); m != "" {
		t.Errorf("inline event handler %q", m)
	}
	if m := inlineStyle.FindString(body); m != "" {
		t.Errorf("inline style %q", m)
	}
}

// A wrong token is a 401 with the form again and no cookie; a right one a
// session cookie that scripts cannot read and other sites cannot make the
// browser send, Secure when the page came over TLS.
func TestLogin(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	tests := []struct {
		name   string
		token  string
		header map[string]string
		status int
		secure bool
	}{
		{"wrong token", "not-a-token-of-this-worker", nil, http.StatusUnauthorized, false},
		{"empty token", "", nil, http.StatusUnauthorized, false},
		{"a prefix of a token", tokenA[:len(tokenA)-1], nil, http.StatusUnauthorized, false},
		{"first token", tokenA, nil, http.StatusSeeOther, false},
		{"second token", tokenB, nil, http.StatusSeeOther, false},
		{"behind a TLS proxy", tokenA, map[string]string{"X-Forwarded-Proto": "https"}, http.StatusSeeOther, true},
		{"another site's form", tokenA, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, false},
		// Browsers without Sec-Fetch-Site still send Origin on a form POST.
		{"another site's form, older browser", tokenA, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden, false},
		{"a form from an opaque origin", tokenA, map[string]string{"Origin": "null"}, http.StatusForbidden, false},
		{"another port's form", tokenA, map[string]string{"Origin": "http://" + hostOnly(w.srv.URL) + ":1"}, http.StatusForbidden, false},
		{"this site's form, older browser", tokenA, map[string]string{"Origin": w.srv.URL}, http.StatusSeeOther, false},
		{"Sec-Fetch-Site wins over Origin", tokenA, map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": w.srv.URL}, http.StatusSeeOther, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := w.browser(t)
			a := b.do(http.MethodPost, "/ui/login", url.Values{"token": {tt.token}, "next": {"/ui/?state=running"}}, tt.header)
			if a.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", a.status, tt.status, a.body)
			}
			c := b.cookie()
			if tt.status != http.StatusSeeOther {
				if c != nil || a.header.Get("Set-Cookie") != "" {
					t.Errorf("refused login set a cookie: %q", a.header.Get("Set-Cookie"))
				}
				if tt.status == http.StatusUnauthorized && !strings.Contains(a.body, "not one this worker accepts") {
					t.Errorf("refusal does not say so:\n%s", a.body)
				}
				if strings.Contains(a.body, tt.token) && tt.token != "" {
					t.Error("the refused token is echoed back")
				}
				return
			}
			if loc := a.header.Get("Location"); loc != "/ui/?state=running" {
				t.Errorf("Location %q, want the page asked for", loc)
			}
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/ui/" || c.Secure != tt.secure {
				t.Errorf("cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v; want HttpOnly, Strict, /ui/, Secure=%v",
					c.HttpOnly, c.SameSite, c.Path, c.Secure, tt.secure)
			}
			if strings.Contains(c.Value, tt.token) {
				t.Error("the cookie holds the token")
			}
			if got := b.get("/ui/"); got.status != http.StatusOK {
				t.Errorf("list with the session: %d", got.status)
			}
		})
	}
}

// The cancel form only works with its own session's CSRF token, sent from
// this site; anything else is a 403 and the pipeline is not cancelled.
func TestCancelNeedsCSRF(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	rec := w.publish(t, "csrf", tasks.ActionPublishNow, w.profile)
	path := "/ui/pipelines/" + rec.ID
	b, other := w.browser(t), w.browser(t)
	b.mustLogin(tokenA)
	other.mustLogin(tokenA)
	good, foreign := b.csrf(path), other.csrf(path)
	if good == foreign {
		t.Fatal("two sessions share a CSRF token")
	}
	refused := []struct {
		name   string
		form   url.Values
		header map[string]string
	}{
		{"no token", url.Values{}, nil},
		{"empty token", url.Values{"csrf": {""}}, nil},
		{"another session's token", url.Values{"csrf": {foreign}}, nil},
		{"a token cut short", url.Values{"csrf": {good[:len(good)-2]}}, nil},
		{"from another site", url.Values{"csrf": {good}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		{"from a sibling site", url.Values{"csrf": {good}}, map[string]string{"Sec-Fetch-Site": "same-site"}},
		{"from another site, older browser", url.Values{"csrf": {good}}, map[string]string{"Origin": "https://evil.example"}},
	}
	for _, tt := range refused {
		a := b.do(http.MethodPost, path+"/cancel", tt.form, tt.header)
		if a.status != http.StatusForbidden {
			t.Errorf("%s: status %d, want 403", tt.name, a.status)
		}
	}
	if got, _ := w.client.Get(context.Background(), rec.ID); got.CancelRequested {
		t.Fatal("a refused form cancelled the pipeline")
	}
	if a := w.browser(t).do(http.MethodPost, path+"/cancel", url.Values{"csrf": {good}}, nil); a.status != http.StatusUnauthorized {
		t.Errorf("without the session cookie: %d, want 401", a.status)
	}
	a := b.do(http.MethodPost, path+"/cancel", url.Values{"csrf": {good}}, nil)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != path+"?notice=cancel-requested" {
		t.Fatalf("cancel: %d Location %q", a.status, a.header.Get("Location"))
	}
	if got, _ := w.client.Get(context.Background(), rec.ID); !got.CancelRequested {
		t.Fatal("the cancel was not recorded")
	}
	page := b.get(path + "?notice=cancel-requested")
	if !strings.Contains(page.body, "Cancel requested") || strings.Contains(page.body, `id="cancel"`) {
		t.Errorf("after the cancel the page should say so and offer no second cancel:\n%s", page.body)
	}
	// Logging out also needs the token: a stranger cannot log you out.
	if a := b.do(http.MethodPost, "/ui/logout", url.Values{}, nil); a.status != http.StatusForbidden {
		t.Errorf("logout without CSRF: %d, want 403", a.status)
	}
	if a := b.do(http.MethodPost, "/ui/logout", url.Values{"csrf": {good}}, nil); a.status != http.StatusSeeOther {
		t.Errorf("logout: %d, want 303", a.status)
	}
	if b.cookie() != nil {
		t.Error("logout left the cookie")
	}
	if a := b.get("/ui/"); a.status != http.StatusSeeOther {
		t.Errorf("list after logout: %d, want a redirect to the login", a.status)
	}
}

// Removing a token from API_TOKENS ends the sessions opened with it, and
// only those; adding one ends none. A session also ends when it expires,
// and a cookie altered in any part is refused.
func TestSessionLifetime(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var now time.Time
	clock := func() time.Time { return now }
	now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewServer(w.mount(t, []string{tokenA, tokenB}, worldOptions{now: clock}))
	t.Cleanup(srv.Close)
	before := srv.URL
	withA, withB := &browser{t: t, base: before, c: w.browser(t).c}, &browser{t: t, base: before, c: w.browser(t).c}
	withA.mustLogin(tokenA)
	withB.mustLogin(tokenB)
	cookieA, cookieB := withA.cookie().Value, withB.cookie().Value

	const tokenC = "ui-token-c-00112233445566"
	tests := []struct {
		name   string
		tokens []string
		cookie string
		after  time.Duration
		ok     bool
	}{
		{"same tokens", []string{tokenA, tokenB}, cookieA, 0, true},
		{"token A removed: A's session ends", []string{tokenB}, cookieA, 0, false},
		{"token A removed: B's session stays", []string{tokenB}, cookieB, 0, true},
		{"a token added", []string{tokenC, tokenA, tokenB}, cookieA, 0, true},
		{"tokens reordered", []string{tokenB, tokenA}, cookieA, 0, true},
		{"just before expiry", []string{tokenA}, cookieA, DefaultSessionTTL - time.Second, true},
		{"expired", []string{tokenA}, cookieA, DefaultSessionTTL, false},
		{"signature altered", []string{tokenA}, flipLast(cookieA), 0, false},
		{"expiry pushed back", []string{tokenA}, pushExpiry(cookieA), 0, false},
		{"B's id with A's signature", []string{tokenA, tokenB}, swapID(cookieA, cookieB), 0, false},
		{"garbage", []string{tokenA}, "v1.x.y", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			at := now.Add(tt.after)
			h := w.mount(t, tt.tokens, worldOptions{now: func() time.Time { return at }})
			req, _ := http.NewRequest(http.MethodGet, "http://example.test/ui/", nil)
			req.AddCookie(&http.Cookie{Name: cookieName, Value: tt.cookie})
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, req)
			switch {
			case tt.ok && rw.Code != http.StatusOK:
				t.Errorf("status %d, want the list", rw.Code)
			case !tt.ok && (rw.Code != http.StatusSeeOther || !strings.HasPrefix(rw.Header().Get("Location"), "/ui/login")):
				t.Errorf("status %d Location %q, want a redirect to the login", rw.Code, rw.Header().Get("Location"))
			case !tt.ok && !strings.Contains(rw.Header().Get("Set-Cookie"), "Max-Age=0"):
				t.Errorf("a dead session's cookie is not cleared: %q", rw.Header().Get("Set-Cookie"))
			}
		})
	}
}

func flipLast(c string) string {
	b := []byte(c)
	if b[len(b)-1] == 'A' {
		b[len(b)-1] = 'B'
	} else {
		b[len(b)-1] = 'A'
	}
	return string(b)
}

func pushExpiry(c string) string {
	p := strings.Split(c, ".")
	p[2] = "9999999999"
	return strings.Join(p, ".")
}

func swapID(a, b string) string {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	pa[1] = pb[1]
	return strings.Join(pa, ".")
}

// The JSON API stays bearer-only: the page's cookie opens nothing there.
func TestAPIIgnoresTheSessionCookie(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	b := w.browser(t)
	b.mustLogin(tokenA)
	for _, path := range []string{"/v1/pipelines", "/v1/pipelines/" + tasks.PipelineID("x")} {
		req, _ := http.NewRequest(http.MethodGet, w.srv.URL+path, nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: b.cookie().Value})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with the session cookie: %d, want 401", path, resp.StatusCode)
		}
	}
}

// After the login the browser goes back to the page it asked for, and
// never to another site.
func TestLoginRedirectStaysLocal(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"":                             "/ui/",
		"/ui/pipelines/abc":            "/ui/pipelines/abc",
		"/ui/?state=failed&q=k":        "/ui/?state=failed&q=k",
		"https://evil.example/ui/":     "/ui/",
		"//evil.example/ui/":           "/ui/",
		"/\\evil.example":              "/ui/",
		"/ui/\\..\\evil":               "/ui/",
		"/v1/pipelines":                "/ui/",
		"/ui/login?next=//evil":        "/ui/",
		"javascript:alert(1)":          "/ui/",
		"/ui/\r\nSet-Cookie: x=1":      "/ui/",
		"https:/ui/":                   "/ui/",
		"/ui/pipelines/x?notice=ok#id": "/ui/pipelines/x?notice=ok#id",
		// Dot segments are resolved before the prefix is judged, as the
		// browser will resolve them, encoded or not.
		"/ui/../v1/pipelines":      "/ui/",
		"/ui/%2e%2e/v1/pipelines":  "/ui/",
		"/ui/%2E%2E/%2E%2E/evil":   "/ui/",
		"/ui/pipelines/../../v1":   "/ui/",
		"/ui/pipelines/../login":   "/ui/",
		"/ui/./pipelines/x":        "/ui/pipelines/x",
		"/ui/pipelines/a/../b?x=1": "/ui/pipelines/b?x=1",
		"/ui/..":                   "/ui/",
		"/ui/pipelines/x/":         "/ui/pipelines/x/",
	}
	for in, want := range tests {
		if got := localNext(in); got != want {
			t.Errorf("localNext(%q) = %q, want %q", in, got, want)
		}
	}
}

func hostOnly(rawURL string) string {
	u, _ := url.Parse(rawURL)
	return u.Hostname()
}

// Logging out ends the session everywhere: a copy of the cookie taken
// before is refused after it, by this worker and by any other on the same
// Redis, while other sessions of the same token go on.
func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	b, other := w.browser(t), w.browser(t)
	b.mustLogin(tokenA)
	other.mustLogin(tokenA)
	copied := b.cookie().Value
	replica := httptest.NewServer(w.mount(t, []string{tokenA, tokenB}, worldOptions{}))
	t.Cleanup(replica.Close)
	withCopy := func(base string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, base+"/ui/", nil)
		req.AddCookie(&http.Cookie{Name: cookieName, Value: copied})
		resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := withCopy(replica.URL); got != http.StatusOK {
		t.Fatalf("the copied cookie before logout, on another replica: %d, want 200", got)
	}
	if a := b.do(http.MethodPost, "/ui/logout", url.Values{"csrf": {b.csrf("/ui/")}}, nil); a.status != http.StatusSeeOther {
		t.Fatalf("logout: %d", a.status)
	}
	for name, base := range map[string]string{"this worker": w.srv.URL, "another replica": replica.URL} {
		if got := withCopy(base); got != http.StatusSeeOther {
			t.Errorf("the cookie copied before logout, on %s: %d, want a redirect to the login", name, got)
		}
	}
	if a := other.get("/ui/"); a.status != http.StatusOK {
		t.Errorf("another session of the same token after the logout: %d, want 200", a.status)
	}
	// The entry lasts as long as the session had left (plus the skew
	// margin), and holds nothing of the cookie.
	keys := w.redis.Client.Keys(t.Context(), "mediaflow:ui:revoked:*").Val()
	if len(keys) != 1 {
		t.Fatalf("revocation keys %v, want one", keys)
	}
	ttl := w.redis.Client.PTTL(t.Context(), keys[0]).Val()
	if ttl < DefaultSessionTTL-time.Minute || ttl > DefaultSessionTTL+clockSkew {
		t.Errorf("the entry lives %v, want the session's remaining %v plus %v", ttl, DefaultSessionTTL, clockSkew)
	}
	for _, part := range strings.Split(copied, ".") {
		if len(part) > 8 && strings.Contains(keys[0], part) {
			t.Errorf("the key %q holds part of the cookie", keys[0])
		}
	}
}

// Failed logins count against the client address together with the API's
// failed tokens: past the limit the form answers 429 with Retry-After and
// no cookie, even for a right token, and the API refuses that address too.
func TestLoginIsThrottled(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	guard, err := authlimit.New(r.Client, authlimit.Config{PerMinute: 3, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t, worldOptions{redis: r, guard: guard})
	b := w.browser(t)
	for i := range 3 {
		if a := b.login("wrong-token-0123456789"); a.status != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i+1, a.status)
		}
	}
	for _, token := range []string{"wrong-token-0123456789", tokenA} {
		a := b.login(token)
		if a.status != http.StatusTooManyRequests {
			t.Fatalf("past the limit: %d, want 429", a.status)
		}
		if ra, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
			t.Errorf("Retry-After %q, want 1 to 20 s", a.header.Get("Retry-After"))
		}
		if !strings.Contains(a.body, "Too many failed logins") || b.cookie() != nil {
			t.Errorf("the refusal does not say why, or set a cookie:\n%s", a.body)
		}
	}
	req, _ := http.NewRequest(http.MethodGet, w.srv.URL+"/v1/pipelines", nil)
	req.Header.Set("Authorization", "Bearer "+tokenA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the API from the same address: %d, want 429", resp.StatusCode)
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/tasks"
)

// `worker -sandbox` with API_ADDR and API_TOKENS serves the pipelines page
// under /ui/ beside the API: a token logs in, the list shows what the API
// accepted, the session cookie opens nothing in the JSON API, and logging
// out ends it. A client sending wrong tokens is refused with 429 after
// AUTH_FAILURE_LIMIT of them, in a few log lines.
func TestWorkerServesThePage(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	addr := freeport.TestAddr(t)
	root := writeSample(t)
	p := startRun(t, []string{"-sandbox", "-redis", r.URL, "-metrics-addr", "off"},
		map[string]string{"API_ADDR": addr, "API_TOKENS": testToken, "MEDIA_ROOT": root})
	status, body, _ := apiCall(t, addr, http.MethodPost, "/v1/pipelines", testToken, apiTestRequest(t))
	if status != http.StatusAccepted {
		t.Fatalf("publish: %d %s\n%s", status, body, p.errOut.String())
	}
	var rec tasks.Record
	_ = json.Unmarshal(body, &rec)

	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	base := "http://" + addr
	resp, err := noRedirect.Get(base + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/ui/login") {
		t.Fatalf("GET /ui/ without a session: %d %q, want the login form", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp.Header.Get("Content-Security-Policy") == "" {
		t.Error("no Content-Security-Policy on the page")
	}
	resp, err = noRedirect.PostForm(base+"/ui/login", url.Values{"token": {testToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		session = c
	}
	if resp.StatusCode != http.StatusSeeOther || session == nil {
		t.Fatalf("log in: %d, cookie %v", resp.StatusCode, session)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/ui/", nil)
	req.AddCookie(session)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var page bytes.Buffer
	_, _ = page.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(page.String(), rec.ID) {
		t.Errorf("the list: %d, want pipeline %s on it\n%s", resp.StatusCode, rec.ID, page.String())
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/v1/pipelines", nil)
	req.AddCookie(session)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the API with the page's cookie: %d, want 401", resp.StatusCode)
	}

	// Logging out ends the session: the cookie, copied before, is refused.
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page.String())
	if csrf == nil {
		t.Fatalf("the list has no CSRF field:\n%s", page.String())
	}
	req, _ = http.NewRequest(http.MethodPost, base+"/ui/logout", strings.NewReader(url.Values{"csrf": {csrf[1]}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(session)
	if resp, err = noRedirect.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("log out: %d", resp.StatusCode)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/ui/", nil)
	req.AddCookie(session)
	if resp, err = noRedirect.Do(req); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("the cookie copied before logout: %d, want a redirect to the login", resp.StatusCode)
	}

	// 40 wrong tokens from one address meet a 429 (AUTH_FAILURE_LIMIT is
	// 10 a minute); the right token from another address still works.
	fromOther := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	statuses := map[int]int{}
	for i := range 40 {
		req, _ = http.NewRequest(http.MethodGet, base+"/v1/pipelines", nil)
		req.Header.Set("Authorization", "Bearer wrong-token-"+strconv.Itoa(i)+"-0123456789")
		if resp, err = fromOther.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnauthorized] != 10 || statuses[http.StatusTooManyRequests] != 30 {
		t.Errorf("40 wrong tokens: %v, want 10 × 401 then 30 × 429", statuses)
	}
	if status, body, _ := apiCall(t, addr, http.MethodGet, "/v1/pipelines", testToken, ""); status != http.StatusOK {
		t.Errorf("the right token from another address: %d %s", status, body)
	}
	p.stop(t)
	var about []string
	for _, l := range strings.Split(p.errOut.String(), "\n") {
		if strings.Contains(l, "127.0.0.2") || strings.Contains(l, "authentication") {
			about = append(about, l)
		}
	}
	if len(about) == 0 || len(about) > 3 {
		t.Errorf("%d log lines about 40 refused tokens, want 1 to 3:\n%s", len(about), strings.Join(about, "\n"))
	}
	if strings.Contains(p.errOut.String(), testToken) || strings.Contains(p.errOut.String(), "wrong-token") {
		t.Error("the log holds a token")
	}
}

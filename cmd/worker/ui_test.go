package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/tasks"
)

// `worker -sandbox` with API_ADDR and API_TOKENS serves the pipelines page
// under /ui/ beside the API: a token logs in, the list shows what the API
// accepted, and the session cookie opens nothing in the JSON API.
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
	p.stop(t)
	if strings.Contains(p.errOut.String(), testToken) {
		t.Error("the log holds a token")
	}
}

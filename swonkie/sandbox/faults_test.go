package sandbox_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// try is do for requests that may get no answer: it reports status 0
// instead of failing.
func (e *env) try(q req) resp {
	e.t.Helper()
	var body *bytes.Reader
	if q.body != nil {
		raw, _ := json.Marshal(q.body)
		body = bytes.NewReader(raw)
	} else {
		body = bytes.NewReader(nil)
	}
	url := q.path
	if !strings.HasPrefix(url, "http") {
		url = e.r.URL + q.path
	}
	r, _ := http.NewRequest(q.method, url, body)
	if q.body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	if !q.noAuth {
		r.Header.Set("X-API-ID", testID)
		r.Header.Set("X-API-KEY", testKey)
	}
	for k, v := range q.header {
		r.Header.Set(k, v)
	}
	res, err := e.hc.Do(r)
	if err != nil {
		return resp{}
	}
	defer res.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(res.Body)
	return resp{status: res.StatusCode, header: res.Header, body: b.Bytes()}
}

// script drives a fixed mixed request sequence and returns what each
// request got: a status, or 0 for no answer.
func script(t *testing.T, e *env) []int {
	var out []int
	for i := range 30 {
		r := e.try(req{method: http.MethodPost, path: "/v2/media", body: map[string]any{"name": fmt.Sprint(i), "destinationType": "POST_MEDIA"}})
		out = append(out, r.status)
		out = append(out, e.try(req{method: http.MethodGet, path: "/v2/profiles"}).status)
		out = append(out, e.try(req{method: http.MethodPost, path: "/v2/labels", body: map[string]any{"name": "l"}}).status)
		out = append(out, e.try(req{method: http.MethodGet, path: "/v2/posts"}).status)
	}
	return out
}

func TestFaultsAreDeterministic(t *testing.T) {
	t.Parallel()
	plan, err := sandbox.ParseFaultPlan(`{"*":{"error5xx":0.1,"rateLimit":0.1,"reset":0.05,"lostReply":0.15,"latency":0.1,"latencyBy":"1ms"},
		"GET /profiles":{"error5xx":0.4}}`)
	if err != nil {
		t.Fatal(err)
	}
	run := func(seed int64) ([]int, map[string]map[sandbox.FaultKind]int) {
		e := start(t, sandbox.Options{Seed: seed, Faults: plan})
		got := script(t, e)
		return got, e.s.Stats().Faults
	}
	a, fa := run(11)
	b, fb := run(11)
	if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(fa, fb) {
		t.Fatalf("same seed, different faults:\n%v\n%v\n%v\n%v", a, b, fa, fb)
	}
	kinds := map[sandbox.FaultKind]bool{}
	for _, byKind := range fa {
		for k := range byKind {
			kinds[k] = true
		}
	}
	if len(kinds) != 5 {
		t.Fatalf("120 requests met only the fault kinds %v", kinds)
	}
	c, _ := run(12)
	if reflect.DeepEqual(a, c) {
		t.Fatal("seeds 11 and 12 injected the same faults")
	}
}

// TestFaultsIgnoreOtherEndpoints: the n-th request to an endpoint meets
// the same faults whatever is sent to other endpoints in between.
func TestFaultsIgnoreOtherEndpoints(t *testing.T) {
	t.Parallel()
	plan := sandbox.FaultPlan{"GET /profiles": {Error5xx: 0.5}}
	quiet := start(t, sandbox.Options{Seed: 5, Faults: plan})
	busy := start(t, sandbox.Options{Seed: 5, Faults: plan})
	var a, b []int
	for i := range 40 {
		a = append(a, quiet.try(req{method: http.MethodGet, path: "/v2/profiles"}).status)
		for range i % 3 {
			busy.try(req{method: http.MethodGet, path: "/v2/labels"})
		}
		b = append(b, busy.try(req{method: http.MethodGet, path: "/v2/profiles"}).status)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("requests to /labels shifted the faults of /profiles:\n%v\n%v", a, b)
	}
}

func TestLostReplyCommits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		plan  sandbox.FaultPlan
		check func(t *testing.T, e *env)
	}{
		{"create media", sandbox.FaultPlan{"POST /media": {LostReply: 1}}, func(t *testing.T, e *env) {
			r := e.try(req{method: http.MethodPost, path: "/v2/media", body: map[string]any{"name": "a", "destinationType": "POST_MEDIA"}})
			if r.status != 0 {
				t.Fatalf("lost reply answered %d", r.status)
			}
			st := e.s.Stats()
			all := e.s.AllMedia()
			if st.Media.Created != 1 || len(all) != 1 || !all[0].CreateReplyLost ||
				len(st.Media.LostCreates) != 1 || st.Media.LostCreates[0] != all[0].ID ||
				len(st.Media.Orphaned) != 1 {
				t.Fatalf("after a lost create: %+v, %+v", st.Media, all)
			}
			if st.Requests["POST /media"][0] != 1 || st.Faults["POST /media"][sandbox.FaultLostReply] != 1 {
				t.Fatalf("requests %v, faults %v", st.Requests, st.Faults)
			}
		}},
		{"create post", sandbox.FaultPlan{"POST /posts": {LostReply: 1}}, func(t *testing.T, e *env) {
			m := e.readyMedia(testmedia.PNG(2, 2, 0))
			if r := e.try(req{method: http.MethodPost, path: "/v2/posts", body: e.mediaPost("lost", m)}); r.status != 0 {
				t.Fatalf("lost reply answered %d", r.status)
			}
			posts := e.s.AllPosts()
			if len(posts) != 1 || !posts[0].CreateReplyLost || len(e.s.Stats().Posts.LostCreates) != 1 {
				t.Fatalf("after a lost post create: %+v", posts)
			}
			// The post is findable, as the recovery trick needs.
			r := e.get("/v2/posts?search=lost")
			if !strings.Contains(r.String(), posts[0].Post.ID) {
				t.Fatalf("lost post not listed: %s", r.body)
			}
		}},
		{"confirm", sandbox.FaultPlan{"PATCH /media/{id}": {LostReply: 1}}, func(t *testing.T, e *env) {
			c := e.createMedia(nil)
			expect(t, e.upload(c.UploadURL, testmedia.PNG(2, 2, 0), nil), http.StatusCreated)
			if r := e.try(req{method: http.MethodPatch, path: "/v2/media/" + esc(c.MediaID)}); r.status != 0 {
				t.Fatalf("lost reply answered %d", r.status)
			}
			if info, _ := e.s.Media(c.MediaID); info.State != "SUCCESS" {
				t.Fatalf("confirm with a lost reply left the media %s", info.State)
			}
		}},
		{"upload", sandbox.FaultPlan{"PUT {uploadUrl}": {LostReply: 1}}, func(t *testing.T, e *env) {
			c := e.createMedia(nil)
			png := testmedia.PNG(2, 2, 0)
			r := e.try(req{method: http.MethodPut, path: c.UploadURL, body: png, noAuth: true, header: map[string]string{"x-ms-blob-type": "BlockBlob"}})
			if r.status != 0 {
				t.Fatalf("lost reply answered %d", r.status)
			}
			if info, _ := e.s.Media(c.MediaID); info.Uploads != 1 {
				t.Fatalf("upload with a lost reply was not stored: %+v", info)
			}
		}},
		{"delete media", sandbox.FaultPlan{"DELETE /media/{id}": {LostReply: 1}}, func(t *testing.T, e *env) {
			c := e.createMedia(nil)
			e.try(req{method: http.MethodDelete, path: "/v2/media/" + esc(c.MediaID)})
			if info, _ := e.s.Media(c.MediaID); info.State != sandbox.StateDeleted {
				t.Fatalf("delete with a lost reply left the media %s", info.State)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.check(t, start(t, sandbox.Options{Faults: tt.plan}))
		})
	}
}

func TestResetCommitsNothing(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Faults: sandbox.FaultPlan{"POST /media": {Reset: 1}, "PUT {uploadUrl}": {Reset: 1}, "POST /posts": {Reset: 1}}})
	if r := e.try(req{method: http.MethodPost, path: "/v2/media", body: map[string]any{"name": "a", "destinationType": "POST_MEDIA"}}); r.status != 0 {
		t.Fatalf("reset answered %d", r.status)
	}
	st := e.s.Stats()
	if st.Media.Created != 0 || st.Faults["POST /media"][sandbox.FaultReset] != 1 || st.Requests["POST /media"][0] != 1 {
		t.Fatalf("after a reset create: %+v", st)
	}
	if r := e.try(req{method: http.MethodPost, path: "/v2/posts", body: map[string]any{"type": "STATUS"}}); r.status != 0 {
		t.Fatalf("reset answered %d", r.status)
	}
	if e.s.Stats().Posts.Created != 0 {
		t.Fatal("a reset create made a post")
	}
}

func TestInjectedErrors(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Faults: sandbox.FaultPlan{
		"*":             {RateLimit: 1, RetryAfter: 2 * time.Second},
		"GET /labels":   {RetryAfter: 9 * time.Second},
		"POST /media":   {Error5xx: 1},
		"GET /profiles": {},
	}})
	r := e.try(req{method: http.MethodGet, path: "/v2/posts"})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Fatalf("GET /posts: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	r.errorBody(t)
	if r := e.try(req{method: http.MethodGet, path: "/v2/labels"}); r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "9" {
		t.Fatalf("GET /labels: %d, Retry-After %q", r.status, r.header.Get("Retry-After"))
	}
	for range 8 {
		r := e.try(req{method: http.MethodPost, path: "/v2/media", body: map[string]any{"name": "a", "destinationType": "POST_MEDIA"}})
		if r.status < 500 || r.status > 504 {
			t.Fatalf("POST /media: %d, want a 5xx", r.status)
		}
		r.errorBody(t)
	}
	if st := e.s.Stats(); st.Media.Created != 0 || st.Faults["POST /media"][sandbox.FaultError5xx] != 8 {
		t.Fatalf("5xx committed or was not counted: %+v", st)
	}
	// Faults come before authentication, like a proxy's would…
	if r := e.try(req{method: http.MethodGet, path: "/v2/posts", noAuth: true}); r.status != http.StatusTooManyRequests {
		t.Fatalf("unauthenticated request during a 429 storm: %d", r.status)
	}
	// …and never hit the introspection endpoints.
	expect(t, e.get("/_sandbox/stats"), http.StatusOK)
}

func TestLatency(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Latency: 300 * time.Millisecond,
		Faults: sandbox.FaultPlan{"GET /labels": {Latency: 1, LatencyBy: 200 * time.Millisecond}}})
	took := func(path string) time.Duration {
		start := time.Now()
		expect(t, e.get(path), http.StatusOK)
		return time.Since(start)
	}
	if d := took("/v2/profiles"); d < 300*time.Millisecond {
		t.Fatalf("GET /profiles took %s with 300ms latency", d)
	}
	if d := took("/v2/labels"); d < 500*time.Millisecond {
		t.Fatalf("GET /labels took %s with 300ms latency and a 200ms fault", d)
	}
	if d := took("/_sandbox/stats"); d >= 300*time.Millisecond {
		t.Fatalf("introspection took %s; latency is for the API only", d)
	}
}

func TestParseFaultPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "plan.json")
	if err := os.WriteFile(file, []byte(`{"PUT {uploadUrl}":{"reset":0.5}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in      string
		want    sandbox.FaultPlan
		wantErr string
	}{
		{"", nil, ""},
		{`{"*":{"error5xx":0.05},"POST /posts":{"lostReply":0.1}}`,
			sandbox.FaultPlan{"*": {Error5xx: 0.05}, "POST /posts": {LostReply: 0.1}}, ""},
		{`{"GET /media/{id}":{"rateLimit":0.2,"retryAfter":3,"latency":0.5,"latencyBy":"250ms"}}`,
			sandbox.FaultPlan{"GET /media/{id}": {RateLimit: 0.2, RetryAfter: 3 * time.Second, Latency: 0.5, LatencyBy: 250 * time.Millisecond}}, ""},
		{"@" + file, sandbox.FaultPlan{"PUT {uploadUrl}": {Reset: 0.5}}, ""},
		{"@" + filepath.Join(dir, "missing.json"), nil, "read fault plan"},
		{`{"POST /medias":{"reset":0.1}}`, nil, `unknown endpoint "POST /medias"`},
		{`{"POST /media":{"resets":0.1}}`, nil, "unknown field"},
		{`{"POST /media":{"reset":1.5}}`, nil, "not within [0, 1]"},
		{`{"POST /media":{"reset":-0.1}}`, nil, "not within [0, 1]"},
		{`{"POST /media":{"retryAfter":-1}}`, nil, "negative"},
		{`{"POST /media":{"latencyBy":"soon"}}`, nil, "latencyBy"},
		{`{"POST /media":{}} {}`, nil, "after the JSON"},
		{`[1]`, nil, "parse"},
	}
	for _, tt := range tests {
		got, err := sandbox.ParseFaultPlan(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseFaultPlan(%s): error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("ParseFaultPlan(%s) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
		// A plan survives a round trip through its JSON form.
		if got != nil {
			raw, err := json.Marshal(got)
			if err != nil {
				t.Fatal(err)
			}
			again, err := sandbox.ParseFaultPlan(string(raw))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Errorf("round trip of %s: %s gives %+v, %v", tt.in, raw, again, err)
			}
		}
	}
	if _, err := sandbox.New(sandbox.Options{APIID: "a", APIKey: "b", Faults: sandbox.FaultPlan{"GET /nothing": {}}}); err == nil {
		t.Error("New accepted a plan naming an unknown endpoint")
	}
	for _, k := range sandbox.Endpoints() {
		if _, err := sandbox.ParseFaultPlan(`{"` + k + `":{"reset":0.1}}`); err != nil {
			t.Errorf("endpoint %s from Endpoints() is refused: %v", k, err)
		}
	}
	if len(sandbox.Endpoints()) != 15 {
		t.Errorf("Endpoints() = %v, want the 14 API endpoints and the upload", sandbox.Endpoints())
	}
}

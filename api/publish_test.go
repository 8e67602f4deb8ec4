package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

func TestPublishAcceptsAndQueues(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	body := `{"media":[{"source":"https://cdn.example.com/a.jpg","name":"a.jpg"},{"source":"https://user:pw@cdn.example.com/b.mp4?X-Sig=secret"}],
	          "post":{"type":"REEL","profileIds":["prof_1","prof_2"],"caption":"hello <b> & co","firstComment":"first","labelIds":["lab_1"]},
	          "action":"publishNow","cleanup":"never"}`
	r := w.publish(t, body, nil)
	if r.status != http.StatusAccepted {
		t.Fatalf("status %d, want 202; %s", r.status, r.body)
	}
	rec := r.record(t)
	if loc := r.header.Get("Location"); loc != "/v1/pipelines/"+rec.ID {
		t.Errorf("Location %q, want /v1/pipelines/%s", loc, rec.ID)
	}
	if r.header.Get("Idempotent-Replayed") != "" {
		t.Error("a new pipeline is marked as a replay")
	}
	if rec.State != tasks.StatePending || rec.Step != tasks.StepAccepted || len(rec.Media) != 2 ||
		rec.Request.Action != tasks.ActionPublishNow || rec.Request.Post.Type != "REEL" || rec.Request.Cleanup != tasks.CleanupNever {
		t.Errorf("record %+v", rec)
	}
	// Written for programs: no HTML escaping.
	if !strings.Contains(string(r.body), `"caption":"hello <b> & co"`) {
		t.Errorf("the caption is escaped: %s", r.body)
	}
	// Source credentials stay out of the answer.
	if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), "pw@") {
		t.Errorf("the record shows source credentials: %s", r.body)
	}
	// It is the record the Go API stores, and its first step is queued.
	stored, err := w.client.Get(context.Background(), rec.ID)
	if err != nil || stored.ID != rec.ID || stored.Request.Post.Caption != rec.Request.Post.Caption {
		t.Fatalf("Get(%s): %v, %+v", rec.ID, err, stored)
	}
	// Pre-flight comes first, one task for the whole post; the uploads
	// wait for its verdict.
	if n := pendingTasks(t, w); n != 1 {
		t.Errorf("%d tasks pending, want the pre-flight alone", n)
	}
	got := w.do(t, call{method: http.MethodGet, path: r.header.Get("Location")})
	if got.status != http.StatusOK || got.record(t).ID != rec.ID {
		t.Errorf("GET Location: %d %s", got.status, got.body)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	first := w.publish(t, validRequest("one"), map[string]string{"Idempotency-Key": "order-1"})
	if first.status != http.StatusAccepted {
		t.Fatalf("first: %d %s", first.status, first.body)
	}
	id := first.record(t).ID
	if first.record(t).Key != "order-1" {
		t.Errorf("the header key did not reach the record: %q", first.record(t).Key)
	}
	keysAfterFirst := len(w.keys(t))

	tests := []struct {
		name    string
		body    string
		header  map[string]string
		status  int
		replay  bool
		problem string
		fields  []string
	}{
		{"same header, same request", validRequest("one"), map[string]string{"Idempotency-Key": "order-1"}, http.StatusOK, true, "", nil},
		{"the key in the body instead", `{"key":"order-1",` + validRequest("one")[1:], nil, http.StatusOK, true, "", nil},
		{"both, equal", `{"key":"order-1",` + validRequest("one")[1:], map[string]string{"Idempotency-Key": "order-1"}, http.StatusOK, true, "", nil},
		{"quoted structured-field header", validRequest("one"), map[string]string{"Idempotency-Key": `"order-1"`}, http.StatusOK, true, "", nil},
		{"same key, different request", validRequest("two"), map[string]string{"Idempotency-Key": "order-1"}, http.StatusConflict, false, typeKeyReused, nil},
		{"body key differs from header", `{"key":"order-2",` + validRequest("one")[1:], map[string]string{"Idempotency-Key": "order-1"}, http.StatusBadRequest, false, typeInvalid, []string{"key"}},
		{"empty header", validRequest("one"), map[string]string{"Idempotency-Key": `""`}, http.StatusBadRequest, false, typeInvalid, []string{"Idempotency-Key"}},
		{"key too long", validRequest("one"), map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}, http.StatusBadRequest, false, typeInvalid, []string{"key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.publish(t, tt.body, tt.header)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; %s", r.status, tt.status, r.body)
			}
			if got := r.header.Get("Idempotent-Replayed") == "true"; got != tt.replay {
				t.Errorf("Idempotent-Replayed %q", r.header.Get("Idempotent-Replayed"))
			}
			if tt.problem == "" {
				if rec := r.record(t); rec.ID != id || r.header.Get("Location") != "/v1/pipelines/"+id {
					t.Errorf("replay answered %s at %q, want %s", rec.ID, r.header.Get("Location"), id)
				}
			} else {
				p := r.problem(t)
				if p.Type != tt.problem {
					t.Errorf("problem type %q, want %q", p.Type, tt.problem)
				}
				if tt.problem == typeKeyReused && p.PipelineID != id {
					t.Errorf("pipelineId %q, want %s", p.PipelineID, id)
				}
				if !slices.Equal(fieldsOf(p), tt.fields) {
					t.Errorf("fields %v, want %v", fieldsOf(p), tt.fields)
				}
			}
			if n := len(w.keys(t)); n != keysAfterFirst {
				t.Errorf("Redis went from %d to %d keys", keysAfterFirst, n)
			}
		})
	}
	// Two Idempotency-Key headers are ambiguous.
	req := validRequest("one")
	r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines", body: req, header: map[string]string{"Idempotency-Key": "a"}, extraHeader: [][2]string{{"Idempotency-Key", "b"}}})
	if r.status != http.StatusBadRequest || !slices.Equal(fieldsOf(r.problem(t)), []string{"Idempotency-Key"}) {
		t.Errorf("two keys: %d %s", r.status, r.body)
	}
	// Without a key every request is a new pipeline.
	a, b := w.mustPublish(t, validRequest("x")), w.mustPublish(t, validRequest("x"))
	if a.ID == b.ID {
		t.Error("two requests without a key got the same pipeline")
	}
}

// A client that retries after a timeout gets its pipeline back even when
// publishAt has come within the minimum lead (a minute) since the first
// try: a refusal stands only for a key that names no pipeline.
func TestIdempotentRetryWhenPublishAtCameClose(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	at := time.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	body := `{"media":[{"source":"https://cdn.example.com/a.jpg"}],"post":{"profileIds":["prof_1"],"caption":"soon","publishAt":"` + at + `"},"action":"schedule"}`
	// The first try, accepted when publishAt was further ahead: a client
	// whose lead is a second stands in for the clock having moved on.
	req, err := tasks.DecodeRequestBytes([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Key = "retry-after-timeout"
	earlier := tasks.NewClient(w.redis.Client, tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Second}))
	t.Cleanup(func() { _ = earlier.Close() })
	first, created, err := earlier.Publish(context.Background(), req)
	if err != nil || !created {
		t.Fatalf("first try: created=%v err=%v", created, err)
	}

	r := w.publish(t, body, map[string]string{"Idempotency-Key": "retry-after-timeout"})
	if r.status != http.StatusOK || r.header.Get("Idempotent-Replayed") != "true" || r.record(t).ID != first.ID {
		t.Fatalf("retry: %d Idempotent-Replayed=%q %s; want 200, true and pipeline %s",
			r.status, r.header.Get("Idempotent-Replayed"), r.body, first.ID)
	}
	// A new key with that publishAt is judged, and refused.
	r = w.publish(t, body, map[string]string{"Idempotency-Key": "a-new-key"})
	if r.status != http.StatusBadRequest || !slices.Equal(fieldsOf(r.problem(t)), []string{"post.publishAt"}) {
		t.Errorf("a new key: %d %s, want 400 on post.publishAt", r.status, r.body)
	}
}

// Every kind of bad body is refused with the right status and problem
// type, and leaves Redis empty.
func TestBadBodies(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{maxBody: 4096})
	valid := validRequest("hello")
	big := `{"media":[{"source":"https://cdn.example.com/a.jpg"}],"post":{"profileIds":["p"],"caption":"` + strings.Repeat("x", 5000) + `"},"action":"draft"}`
	tests := []badBody{
		{"malformed JSON", "", `{"media":[`, false, 400, typeMalformed, "cut short", nil},
		{"not JSON at all", "", `hello`, false, 400, typeMalformed, "malformed JSON", nil},
		{"unknown field", "", `{"media":[],"colour":"red"}`, false, 400, typeMalformed, `unknown field "colour"`, []string{"colour"}},
		{"unknown nested field", "", `{"media":[{"source":"https://a.example/a.jpg","size":3}]}`, false, 400, typeMalformed, `unknown field "size"`, []string{"media[0].size"}},
		{"unknown option", "", `{"post":{"type":"STATUS","profileIds":["p"],"caption":"c","tiktok":{"isBrandedContent":true,"isPaid":true}},"action":"draft"}`,
			false, 400, typeMalformed, "post.tiktok.isPaid", []string{"post.tiktok.isPaid"}},
		{"a carousel of one card", "", `{"media":[{"source":"https://a.example/a.jpg"}],"post":{"profileIds":["p"],"caption":"c","facebook":{"carousels":[{"link":"https://shop.example/a","title":"A"}]}},"action":"draft"}`,
			false, 400, typeInvalid, "", []string{"post.facebook.carousels"}},
		{"a status post with media", "", `{"media":[{"source":"https://a.example/a.jpg"}],"post":{"type":"STATUS","profileIds":["p"],"caption":"c"},"action":"draft"}`,
			false, 400, typeInvalid, "", []string{"media"}},
		{"wrong type", "", `{"media":"a.jpg"}`, false, 400, typeMalformed, "field media", nil},
		{"wrong nested type", "", `{"media":[],"post":{"profileIds":"p"}}`, false, 400, typeMalformed, "field post.profileIds", nil},
		{"bad time", "", `{"media":[],"post":{"profileIds":["p"],"publishAt":"tomorrow"}}`, false, 400, typeMalformed, "", nil},
		{"trailing data", "", valid + `{}`, false, 400, typeMalformed, "after the JSON object", nil},
		{"array instead of object", "", `[` + valid + `]`, false, 400, typeMalformed, "", nil},
		{"null", "", `null`, false, 400, typeInvalid, "", []string{"media", "post", "action"}},
		{"empty body", "application/json", "", false, 400, typeMalformed, "empty request", nil},
		{"only white space", "", "  \n ", false, 400, typeMalformed, "empty request", nil},
		{"too large", "", big, false, 413, typeTooLarge, "larger than 4096 bytes", nil},
		{"too large, without Content-Length", "", big, true, 413, typeTooLarge, "larger than 4096 bytes", nil},
		{"no content type", "-", valid, false, 415, typeMediaType, "application/json", nil},
		{"text/plain", "text/plain", valid, false, 415, typeMediaType, "", nil},
		{"form", "application/x-www-form-urlencoded", valid, false, 415, typeMediaType, "", nil},
		{"another charset", "application/json; charset=latin1", valid, false, 415, typeMediaType, "", nil},
		{"a +json type", "application/merge-patch+json", valid, false, 415, typeMediaType, "", nil},
		{"unparsable content type", "application/json;;", valid, false, 415, typeMediaType, "", nil},
		{"invalid request", "", `{"media":[{"source":""},{"source":"https://a.example/b.jpg","contentType":"text/plain"}],"post":{"type":"POLL","profileIds":["p","p"],"caption":""},"postId":"x","action":"later","cleanup":"sometimes"}`,
			false, 400, typeInvalid, "nothing was queued",
			[]string{"media[0].source", "media[1].contentType", "postId", "post.type", "post.profileIds[1]", "post.caption", "action", "cleanup"}},
		{"no media", "", `{"media":[],"post":{"profileIds":["p"],"caption":"c"},"action":"draft"}`, false, 400, typeInvalid, "", []string{"media"}},
		{"a NUL byte in the caption", "", `{"media":[{"source":"https://a.example/a.jpg"}],"post":{"profileIds":["p"],"caption":"c\u0000d"},"action":"draft"}`, false, 400, typeInvalid, "", []string{"post.caption"}},
		{"schedule in the past", "", `{"media":[{"source":"https://a.example/a.jpg"}],"post":{"profileIds":["p"],"caption":"c","publishAt":"2020-01-01T00:00:00Z"},"action":"schedule"}`, false, 400, typeInvalid, "", []string{"post.publishAt"}},
		{"local file without MEDIA_ROOT", "", `{"media":[{"source":"/etc/passwd"}],"post":{"profileIds":["p"],"caption":"c"},"action":"draft"}`, false, 400, typeInvalid, "", []string{"media[0].source"}},
		{"unsupported scheme", "", `{"media":[{"source":"ftp://files.example.com/a.jpg"}],"post":{"profileIds":["p"],"caption":"c"},"action":"draft"}`, false, 400, typeInvalid, "", []string{"media[0].source"}},
	}
	// The dry run reads its body the same way; a request that is merely
	// invalid is its answer (200 with the problems), not a refusal.
	for _, tt := range tests {
		for _, path := range []string{"/v1/pipelines", "/v1/pipelines/validate"} {
			if path != "/v1/pipelines" && tt.problem == typeInvalid {
				continue
			}
			t.Run(tt.name+" "+path, func(t *testing.T) { tt.check(t, w, path) })
		}
	}
}

// badBody is a body POST refuses, and how.
type badBody struct {
	name        string
	contentType string
	body        string
	chunked     bool
	status      int
	problem     string
	detail      string
	fields      []string
}

func (tt badBody) check(t *testing.T, w *world, path string) {
	t.Helper()
	r := w.do(t, call{method: http.MethodPost, path: path, contentType: tt.contentType, body: tt.body, chunked: tt.chunked})
	if r.status != tt.status {
		t.Fatalf("status %d, want %d; %s", r.status, tt.status, r.body)
	}
	p := r.problem(t)
	if p.Type != tt.problem {
		t.Errorf("problem type %q, want %q", p.Type, tt.problem)
	}
	if !strings.Contains(p.Detail, tt.detail) {
		t.Errorf("detail %q does not say %q", p.Detail, tt.detail)
	}
	if !slices.Equal(fieldsOf(p), tt.fields) {
		t.Errorf("fields %v, want %v", fieldsOf(p), tt.fields)
	}
	if p.Instance != path {
		t.Errorf("instance %q", p.Instance)
	}
	if tt.status == http.StatusUnsupportedMediaType && r.header.Get("Accept-Post") != "application/json" {
		t.Errorf("415 without Accept-Post: %v", r.header)
	}
	w.assertNothingQueued(t)
}

// The body limit is the configured one: the default takes a request the
// small limit refuses, and refuses one just over 1 MiB.
func TestBodyLimitIsConfigurable(t *testing.T) {
	t.Parallel()
	padded := func(n int) string {
		// White space is valid JSON padding and keeps the request valid.
		v := validRequest("pad")
		return v[:len(v)-1] + strings.Repeat(" ", n-len(v)) + "}"
	}
	small := newWorld(t, worldOptions{maxBody: 1000})
	if r := small.publish(t, padded(1000), nil); r.status != http.StatusAccepted {
		t.Errorf("exactly the limit: %d %s", r.status, r.body)
	}
	if r := small.publish(t, padded(1001), nil); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("one byte over: %d %s", r.status, r.body)
	}
	def := newWorld(t, worldOptions{})
	if r := def.publish(t, padded(DefaultMaxBody), nil); r.status != http.StatusAccepted {
		t.Errorf("1 MiB with the default limit: %d %s", r.status, r.body)
	}
	before := len(def.keys(t))
	if r := def.publish(t, padded(DefaultMaxBody+1), nil); r.status != http.StatusRequestEntityTooLarge {
		t.Errorf("1 MiB + 1 with the default limit: %d", r.status)
	}
	if n := len(def.keys(t)); n != before {
		t.Errorf("a refused body changed Redis (%d keys, was %d)", n, before)
	}
}

// A body that stops arriving is cut off after the body timeout, so a slow
// client cannot hold a connection for ever.
func TestSlowBodyTimesOut(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{bodyTimeout: 200 * time.Millisecond})
	for _, path := range []string{"/v1/pipelines", "/v1/pipelines/validate"} {
		pr, pw := io.Pipe()
		defer pw.Close()
		go func() { _, _ = pw.Write([]byte(`{"media":[`)) }()
		start := time.Now()
		r := w.do(t, call{method: http.MethodPost, path: path, stream: pr})
		if r.status != http.StatusRequestTimeout {
			t.Fatalf("%s: status %d, want 408; %s", path, r.status, r.body)
		}
		if p := r.problem(t); p.Type != typeTimeout {
			t.Errorf("%s: problem type %q", path, p.Type)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s: answered after %s", path, d)
		}
	}
	w.assertNothingQueued(t)
}

// Opening the queue to the network must not open the worker's own
// network: sources naming non-public addresses are refused before
// anything is queued, unless ALLOWED_SOURCE_HOSTS names them.
func TestSourceAddressGuard(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	req := func(src string) string {
		return fmt.Sprintf(`{"media":[{"source":%q}],"post":{"profileIds":["p"],"caption":"c"},"action":"draft"}`, src)
	}
	refused := []struct{ src, says string }{
		{"http://127.0.0.1:8080/a.jpg", "loopback"},
		{"http://127.1.2.3/a.jpg", "loopback"},
		{"http://[::1]/a.jpg", "loopback"},
		{"http://[::ffff:127.0.0.1]/a.jpg", "loopback"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata"},
		{"http://169.254.10.1/a.jpg", "link-local"},
		{"http://[fe80::1]/a.jpg", "link-local"},
		{"http://10.0.0.5/a.jpg", "private network"},
		{"http://172.16.3.4/a.jpg", "private network"},
		{"https://192.168.1.10/a.jpg", "private network"},
		{"http://[fd00::1]/a.jpg", "unique local"},
		{"http://100.64.0.1/a.jpg", "carrier-grade NAT"},
		{"http://0.0.0.0/a.jpg", "unspecified"},
		{"http://localhost/a.jpg", "loopback name"},
		{"http://LOCALHOST./a.jpg", "loopback name"},
		{"http://media.localhost:9000/a.jpg", "loopback name"},
	}
	for _, tt := range refused {
		t.Run(tt.src, func(t *testing.T) {
			r := w.publish(t, req(tt.src), nil)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; %s", r.status, r.body)
			}
			p := r.problem(t)
			if !slices.Equal(fieldsOf(p), []string{"media[0].source"}) {
				t.Fatalf("fields %v, want media[0].source", fieldsOf(p))
			}
			if msg := p.Errors[0].Message; !strings.Contains(msg, tt.says) || !strings.Contains(msg, "ALLOWED_SOURCE_HOSTS") {
				t.Errorf("message %q does not say %q and how to allow it", msg, tt.says)
			}
			w.assertNothingQueued(t)
		})
	}

	allowing := newWorld(t, worldOptions{allowedHosts: []string{"127.0.0.1", "localhost", "10.0.0.5"}})
	for _, src := range []string{"http://127.0.0.1:8080/a.jpg", "http://localhost/a.jpg", "http://10.0.0.5/a.jpg"} {
		if r := allowing.publish(t, req(src), nil); r.status != http.StatusAccepted {
			t.Errorf("%s with ALLOWED_SOURCE_HOSTS: %d %s", src, r.status, r.body)
		}
	}
	// The allowlist is exact: another loopback address stays refused.
	if r := allowing.publish(t, req("http://127.0.0.2/a.jpg"), nil); r.status != http.StatusBadRequest {
		t.Errorf("127.0.0.2 with 127.0.0.1 allowed: %d", r.status)
	}
}

package sandbox_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

const (
	testID  = "sandbox-test-id"
	testKey = "sandbox-test-key"
)

// env is a sandbox plus a raw HTTP client: these tests look at status
// codes and bodies the typed client would hide.
type env struct {
	t  *testing.T
	r  *sandbox.Running
	s  *sandbox.Server
	hc *http.Client
	// profiles by role: ok are healthy, expired is not.
	ok      []swonkie.Profile
	expired swonkie.Profile
}

func start(t *testing.T, opts sandbox.Options) *env {
	t.Helper()
	opts.APIID, opts.APIKey = testID, testKey
	r := sandbox.Start(t, opts)
	e := &env{t: t, r: r, s: r.Server, hc: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}}
	for _, p := range r.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK {
			e.ok = append(e.ok, p)
		} else {
			e.expired = p
		}
	}
	return e
}

// resp is a raw answer.
type resp struct {
	status int
	header http.Header
	body   []byte
}

func (r resp) String() string { return string(r.body) }

// decode unmarshals the body into v, failing the test on bad JSON.
func (r resp) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("answer %d is not JSON: %v: %s", r.status, err, r.body)
	}
}

// errorBody checks the JSON error shape and returns it.
func (r resp) errorBody(t *testing.T) errBody {
	t.Helper()
	var b errBody
	r.decode(t, &b)
	if b.StatusCode != r.status || b.Message == "" || b.Errors == nil {
		t.Fatalf("error body %s does not have statusCode %d, a message and an errors list", r.body, r.status)
	}
	return b
}

type errBody struct {
	StatusCode int               `json:"statusCode"`
	Message    string            `json:"message"`
	Errors     []swonkie.Problem `json:"errors"`
}

// hasProblem reports whether a problem names field (exactly) and its
// message holds want.
func (b errBody) hasProblem(field, want string) bool {
	for _, p := range b.Errors {
		if p.Field == field && strings.Contains(p.Message, want) {
			return true
		}
	}
	return false
}

// req is one raw request. body may be nil, a string or []byte (sent as
// is) or anything else (sent as JSON).
type req struct {
	method, path string
	body         any
	header       map[string]string
	noAuth       bool
	contentType  *string
}

func (e *env) do(q req) resp {
	e.t.Helper()
	var rd io.Reader
	ct := ""
	switch b := q.body.(type) {
	case nil:
	case string:
		rd, ct = strings.NewReader(b), "application/json"
	case []byte:
		rd, ct = bytes.NewReader(b), "application/json"
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd, ct = bytes.NewReader(raw), "application/json"
	}
	if q.contentType != nil {
		ct = *q.contentType
	}
	url := q.path
	if !strings.HasPrefix(url, "http") {
		url = e.r.URL + q.path
	}
	r, err := http.NewRequest(q.method, url, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		r.Header.Set("Content-Type", ct)
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
		e.t.Fatalf("%s %s: %v", q.method, q.path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) get(path string) resp { return e.do(req{method: http.MethodGet, path: path}) }

// expect fails the test unless r has the status.
func expect(t *testing.T, r resp, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
}

// created is POST /media's answer.
type created struct {
	MediaID    string `json:"mediaId"`
	ID         string `json:"id"`
	MediaLibID string `json:"mediaLibId"`
	UploadURL  string `json:"uploadUrl"`
}

func (e *env) createMedia(body any) created {
	e.t.Helper()
	if body == nil {
		body = map[string]any{"name": "photo.png", "destinationType": "POST_MEDIA"}
	}
	r := e.do(req{method: http.MethodPost, path: "/v2/media", body: body})
	expect(e.t, r, http.StatusCreated)
	var c created
	r.decode(e.t, &c)
	return c
}

// upload PUTs data to an upload URL the way a good client does.
func (e *env) upload(uploadURL string, data []byte, header map[string]string) resp {
	e.t.Helper()
	h := map[string]string{"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"}
	for k, v := range header {
		h[k] = v
	}
	return e.do(req{method: http.MethodPut, path: uploadURL, body: data, header: h, noAuth: true})
}

func (e *env) confirm(id string) resp {
	return e.do(req{method: http.MethodPatch, path: "/v2/media/" + esc(id)})
}

// readyMedia makes a SUCCESS media from data (with ProcessingDelay 0).
func (e *env) readyMedia(data []byte) string {
	e.t.Helper()
	c := e.createMedia(nil)
	expect(e.t, e.upload(c.UploadURL, data, nil), http.StatusCreated)
	expect(e.t, e.confirm(c.MediaID), http.StatusOK)
	if st := e.mediaStatus(c.MediaID); st != swonkie.MediaSuccess {
		e.t.Fatalf("media is %s right after confirm with no processing delay", st)
	}
	return c.MediaID
}

func (e *env) mediaStatus(id string) swonkie.MediaStatus {
	e.t.Helper()
	r := e.get("/v2/media/" + esc(id))
	expect(e.t, r, http.StatusOK)
	var m swonkie.Media
	r.decode(e.t, &m)
	return m.Status
}

// postBody is a valid MEDIA post body for the env's first healthy profile.
func (e *env) mediaPost(caption string, mediaIDs ...string) map[string]any {
	files := []map[string]any{}
	for _, id := range mediaIDs {
		files = append(files, map[string]any{"mediaLibId": id})
	}
	return map[string]any{
		"type":       "MEDIA",
		"profileIds": []string{e.ok[0].ID},
		"captions":   []map[string]any{{"plainText": caption, "net": nil}},
		"medias":     []map[string]any{{"mediaFiles": files, "net": nil}},
	}
}

func (e *env) createPost(body any) swonkie.Post {
	e.t.Helper()
	r := e.do(req{method: http.MethodPost, path: "/v2/posts", body: body})
	expect(e.t, r, http.StatusCreated)
	var p swonkie.Post
	r.decode(e.t, &p)
	return p
}

func (e *env) getPost(id string) swonkie.Post {
	e.t.Helper()
	r := e.get("/v2/posts/" + esc(id))
	expect(e.t, r, http.StatusOK)
	var p swonkie.Post
	r.decode(e.t, &p)
	return p
}

func (e *env) stage(id, action string) resp {
	return e.do(req{method: http.MethodPatch, path: "/v2/posts/" + esc(id) + "/stage/" + action})
}

func (e *env) advance(d time.Duration) { e.r.Advance(e.t, d) }

// esc path-escapes an id as the client does.
func esc(id string) string { return url.PathEscape(id) }

func ptr[T any](v T) *T { return &v }

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

package sandbox_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestAuthentication(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	tests := []struct {
		name    string
		id, key string
		want    int
	}{
		{"both right", testID, testKey, http.StatusOK},
		{"no headers", "", "", http.StatusUnauthorized},
		{"no key", testID, "", http.StatusUnauthorized},
		{"no id", "", testKey, http.StatusUnauthorized},
		{"wrong key", testID, testKey + "x", http.StatusUnauthorized},
		{"wrong id", "x" + testID, testKey, http.StatusUnauthorized},
		{"swapped", testKey, testID, http.StatusUnauthorized},
		{"key prefix", testID, testKey[:5], http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := map[string]string{}
			if tt.id != "" {
				h["X-API-ID"] = tt.id
			}
			if tt.key != "" {
				h["X-API-KEY"] = tt.key
			}
			for _, path := range []string{"/v2/profiles", "/v2/posts", "/v2/labels", "/_sandbox/stats"} {
				r := e.do(req{method: http.MethodGet, path: path, noAuth: true, header: h})
				expect(t, r, tt.want)
				if tt.want == http.StatusUnauthorized {
					b := r.errorBody(t)
					if strings.Contains(string(r.body), testKey) || (tt.key != "" && strings.Contains(string(r.body), tt.key)) {
						t.Fatalf("401 body echoes a key: %s", r.body)
					}
					_ = b
				}
			}
		})
	}
	// Mutations are refused before anything happens.
	r := e.do(req{method: http.MethodPost, path: "/v2/media", noAuth: true,
		body: map[string]any{"name": "a.png", "destinationType": "POST_MEDIA"}})
	expect(t, r, http.StatusUnauthorized)
	if n := e.s.Stats().Media.Created; n != 0 {
		t.Fatalf("an unauthenticated create made %d media", n)
	}
}

func TestBodyRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	text := "text/plain"
	none := ""
	tests := []struct {
		name        string
		method      string
		path        string
		body        any
		contentType *string
		want        int
		field       string // a problem must name it
	}{
		{"no content type", "POST", "/v2/media", `{"name":"a.png","destinationType":"POST_MEDIA"}`, &none, http.StatusUnsupportedMediaType, ""},
		{"text content type", "POST", "/v2/labels", `{"name":"x"}`, &text, http.StatusUnsupportedMediaType, ""},
		{"json with charset is fine", "POST", "/v2/labels", `{"name":"x"}`, ptr("application/json; charset=utf-8"), http.StatusCreated, ""},
		{"invalid JSON", "POST", "/v2/media", `{"name":`, nil, http.StatusBadRequest, ""},
		{"not an object", "POST", "/v2/posts", `[1,2]`, nil, http.StatusBadRequest, ""},
		{"empty body", "POST", "/v2/labels", ``, nil, http.StatusBadRequest, ""},
		{"two values", "POST", "/v2/labels", `{"name":"a"}{"name":"b"}`, nil, http.StatusBadRequest, ""},
		{"unknown field", "POST", "/v2/media", `{"name":"a.png","destinationType":"POST_MEDIA","mime":"image/png"}`, nil, http.StatusBadRequest, "mime"},
		{"unknown nested field", "POST", "/v2/posts", `{"type":"STATUS","profileIds":["x"],"captions":[{"plainText":"hi","text":"hi"}]}`, nil, http.StatusBadRequest, "text"},
		{"unknown label field", "POST", "/v2/labels", `{"name":"a","color":"#fff"}`, nil, http.StatusBadRequest, "color"},
		{"wrong type", "POST", "/v2/media", `{"name":5,"destinationType":"POST_MEDIA"}`, nil, http.StatusBadRequest, "name"},
		{"too large", "POST", "/v2/labels", `{"name":"` + strings.Repeat("a", 1<<20) + `"}`, nil, http.StatusRequestEntityTooLarge, ""},
		{"confirm takes no fields", "PATCH", "/v2/media/abc", `{"force":true}`, nil, http.StatusBadRequest, "force"},
		{"stage takes no fields", "PATCH", "/v2/posts/abc/stage/schedule", `{"at":1}`, nil, http.StatusBadRequest, "at"},
		{"empty object on confirm is fine (then 404)", "PATCH", "/v2/media/abc", `{}`, nil, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: tt.method, path: tt.path, body: tt.body, contentType: tt.contentType})
			expect(t, r, tt.want)
			if tt.want >= 400 {
				b := r.errorBody(t)
				if tt.field != "" && !b.hasProblem(tt.field, "") {
					t.Fatalf("no problem names %q: %s", tt.field, r.body)
				}
			}
		})
	}
	if n := e.s.Stats().Media.Created; n != 0 {
		t.Fatalf("refused bodies created %d media", n)
	}
}

func TestRouting(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	tests := []struct {
		method, path string
		want         int
	}{
		{"GET", "/v2/nothing", http.StatusNotFound},
		{"GET", "/media", http.StatusNotFound},
		{"PUT", "/v2/media", http.StatusMethodNotAllowed},
		{"POST", "/v2/profiles", http.StatusMethodNotAllowed},
		{"GET", "/v2/posts/a/stage/schedule", http.StatusMethodNotAllowed},
		{"GET", "/v2/media/", http.StatusNotFound},
		// An id with an unescaped '/' is two segments: no such route.
		{"GET", "/v2/media/TWVk/aWFJZA=", http.StatusNotFound},
		// Escaped, it is one id: the route exists, the media does not.
		{"GET", "/v2/media/TWVk%2FaWFJZA=", http.StatusNotFound},
		{"POST", "/v2/competitors", http.StatusNotFound},
	}
	for _, tt := range tests {
		r := e.do(req{method: tt.method, path: tt.path})
		expect(t, r, tt.want)
		r.errorBody(t)
		if tt.want == http.StatusMethodNotAllowed && r.header.Get("Allow") == "" {
			t.Errorf("%s %s: 405 without Allow", tt.method, tt.path)
		}
	}
	if got := e.s.Stats().Requests["other"][http.StatusNotFound]; got != 5 {
		t.Fatalf("unknown routes counted as %d 404s under \"other\", want 5", got)
	}
}

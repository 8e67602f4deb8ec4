package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/tasks"
)

func TestGetPipeline(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	rec := w.mustPublish(t, validRequest("read me"))
	tests := []struct {
		name   string
		id     string
		status int
	}{
		{"existing", rec.ID, http.StatusOK},
		{"unknown", "0193a000-0000-7000-8000-000000000000", http.StatusNotFound},
		{"not a UUID", "not-a-uuid", http.StatusNotFound},
		{"escaped slash", url.PathEscape("a/b"), http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + tt.id})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; %s", r.status, tt.status, r.body)
			}
			if tt.status == http.StatusOK {
				got := r.record(t)
				if got.ID != rec.ID || got.Request.Post.Caption != "read me" || !got.CreatedAt.Equal(rec.CreatedAt) {
					t.Errorf("got %+v", got)
				}
				return
			}
			if p := r.problem(t); p.Type != typeNotFound {
				t.Errorf("problem type %q", p.Type)
			}
		})
	}
	// HEAD answers as GET, without the body.
	if r := w.do(t, call{method: http.MethodHead, path: "/v1/pipelines/" + rec.ID}); r.status != http.StatusOK {
		t.Errorf("HEAD: %d", r.status)
	}
}

func TestListPipelines(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var ids []string
	for i := range 5 {
		ids = append(ids, w.mustPublish(t, validRequest(strings.Repeat("n", i+1))).ID)
	}
	slices.Reverse(ids) // newest first
	page := func(t *testing.T, query string) tasks.RecordPage {
		t.Helper()
		r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines" + query})
		if r.status != http.StatusOK {
			t.Fatalf("GET /v1/pipelines%s: %d %s", query, r.status, r.body)
		}
		var p tasks.RecordPage
		if err := json.Unmarshal(r.body, &p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	idsOf := func(p tasks.RecordPage) []string {
		out := []string{}
		for _, r := range p.Records {
			out = append(out, r.ID)
		}
		return out
	}

	t.Run("default page", func(t *testing.T) {
		p := page(t, "")
		if !slices.Equal(idsOf(p), ids) || p.Next != "" {
			t.Errorf("got %v next %q, want %v and no next", idsOf(p), p.Next, ids)
		}
	})
	t.Run("pages of two, newest first", func(t *testing.T) {
		var got []string
		cursor := ""
		for range 5 {
			q := "?limit=2"
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			p := page(t, q)
			if len(p.Records) > 2 {
				t.Fatalf("a page of %d", len(p.Records))
			}
			got = append(got, idsOf(p)...)
			if cursor = p.Next; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, ids) {
			t.Errorf("paged %v, want %v", got, ids)
		}
	})
	t.Run("by state", func(t *testing.T) {
		if p := page(t, "?state=pending&limit=100"); !slices.Equal(idsOf(p), ids) {
			t.Errorf("pending: %v", idsOf(p))
		}
		if p := page(t, "?state=succeeded"); len(p.Records) != 0 || p.Next != "" {
			t.Errorf("succeeded: %v", idsOf(p))
		}
	})

	bad := []struct {
		name, query string
		fields      []string
	}{
		{"unknown state", "?state=done", []string{"state"}},
		{"limit zero", "?limit=0", []string{"limit"}},
		{"limit over 100", "?limit=101", []string{"limit"}},
		{"limit not a number", "?limit=ten", []string{"limit"}},
		{"negative limit", "?limit=-1", []string{"limit"}},
		{"bad cursor", "?cursor=bm9wZQ", []string{"cursor"}},
		{"unknown parameter", "?status=failed", []string{"status"}},
		{"repeated parameter", "?state=pending&state=failed", []string{"state"}},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines" + tt.query})
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; %s", r.status, r.body)
			}
			p := r.problem(t)
			if p.Type != typeInvalid || !slices.Equal(fieldsOf(p), tt.fields) {
				t.Errorf("problem %s %v, want %s %v", p.Type, fieldsOf(p), typeInvalid, tt.fields)
			}
		})
	}
}

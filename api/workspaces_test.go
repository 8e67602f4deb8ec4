package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/tasks"
)

// With two workspaces a request must name one it serves: an unknown one
// is refused with 422 naming it, and nothing is queued. The record names
// its workspace, and the list filters by it.
func TestPublishNamesItsWorkspace(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{workspaces: []string{"acme", "globex"}})
	in := func(ws, caption string) string {
		return strings.Replace(validRequest(caption), `{"media"`, `{"workspace":"`+ws+`","media"`, 1)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"unknown", in("initech", "x"), `unknown workspace "initech"`},
		{"none", validRequest("x"), "required"},
	} {
		r := w.publish(t, tc.body, nil)
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || !slices.Equal(fieldsOf(p), []string{"workspace"}) || !strings.Contains(p.Detail, tc.want) {
			t.Errorf("%s: %d %s; want 422 naming the workspace field with %q", tc.name, r.status, r.body, tc.want)
		}
	}
	w.assertNothingQueued(t)

	a := w.mustPublish(t, in("acme", "for acme"))
	g := w.mustPublish(t, in("globex", "for globex"))
	if a.Workspace != "acme" || g.Workspace != "globex" {
		t.Fatalf("records name workspaces %q and %q", a.Workspace, g.Workspace)
	}
	for ws, want := range map[string]string{"acme": a.ID, "globex": g.ID} {
		r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines?workspace=" + ws})
		if r.status != http.StatusOK {
			t.Fatalf("list %s: %d %s", ws, r.status, r.body)
		}
		page := r.page(t)
		if len(page.Records) != 1 || page.Records[0].ID != want {
			t.Errorf("list of %s holds %d records, want only %s", ws, len(page.Records), want)
		}
	}
}

// A fleet with one workspace takes requests that name none, and records
// that one.
func TestOneWorkspaceNeedsNoName(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{workspaces: []string{"acme"}})
	if rec := w.mustPublish(t, validRequest("x")); rec.Workspace != "acme" {
		t.Fatalf("record names workspace %q, want acme", rec.Workspace)
	}
}

func (r response) page(t *testing.T) tasks.RecordPage {
	t.Helper()
	var p tasks.RecordPage
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("page %s: %v", r.body, err)
	}
	return p
}

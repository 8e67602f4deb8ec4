package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
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
		// The dry run refuses it alike: it has no workspace to check in.
		for _, path := range []string{"/v1/pipelines", "/v1/pipelines/validate"} {
			r := w.do(t, call{method: http.MethodPost, path: path, body: tc.body})
			p := r.problem(t)
			if r.status != http.StatusUnprocessableEntity || !slices.Equal(fieldsOf(p), []string{"workspace"}) || !strings.Contains(p.Detail, tc.want) {
				t.Errorf("%s %s: %d %s; want 422 naming the workspace field with %q", path, tc.name, r.status, r.body, tc.want)
			}
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

// tokenCMS is a workspaces-file token scoped to acme.
const tokenCMS = "token-cms-acme-0123456789"

func scopedWorld(t *testing.T) *world {
	t.Helper()
	sum := sha256.Sum256([]byte(tokenCMS))
	return newWorld(t, worldOptions{workspaces: []string{"acme", "globex"}, configure: func(c *Config) {
		c.FileTokens = []workspaces.Token{{Name: "cms", SHA256: hex.EncodeToString(sum[:]), Workspaces: []string{"acme"}}}
	}})
}

// A token scoped to acme sees, lists and acts on acme's pipelines only:
// globex's answer 404 exactly as an id that does not exist, on every
// route, and nothing of them changes.
func TestScopedTokenSeesOnlyItsWorkspaces(t *testing.T) {
	t.Parallel()
	w := scopedWorld(t)
	in := func(ws, caption string) string {
		return strings.Replace(validRequest(caption), `{"media"`, `{"workspace":"`+ws+`","media"`, 1)
	}
	a := w.mustPublish(t, in("acme", "for acme"))
	g := w.mustPublish(t, in("globex", "for globex"))
	missing := "0193a000-0000-7000-8000-000000000000"

	for _, tc := range []struct{ name, method, path, body string }{
		{"get", http.MethodGet, "/v1/pipelines/%s", ""},
		{"cancel", http.MethodPost, "/v1/pipelines/%s/cancel", ""},
		{"redeliver", http.MethodPost, "/v1/pipelines/%s/webhook/redeliver", ""},
		{"edit", http.MethodPatch, "/v1/pipelines/%s", `{"post":{"caption":"changed"}}`},
		{"replay", http.MethodPost, "/v1/pipelines/%s/replay", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			other := w.do(t, call{method: tc.method, path: fmt.Sprintf(tc.path, g.ID), token: tokenCMS, body: tc.body})
			none := w.do(t, call{method: tc.method, path: fmt.Sprintf(tc.path, missing), token: tokenCMS, body: tc.body})
			if other.status != http.StatusNotFound {
				t.Fatalf("globex's pipeline: %d %s, want 404", other.status, other.body)
			}
			po, pn := other.problem(t), none.problem(t)
			if po.Type != pn.Type || strings.ReplaceAll(po.Detail, g.ID, missing) != pn.Detail {
				t.Errorf("globex's pipeline answers %+v, a missing one %+v: they must look alike", po, pn)
			}
		})
	}
	after := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + g.ID}).record(t)
	if after.State != g.State || after.CancelRequested || after.Request.Post.Caption != "for globex" {
		t.Errorf("a scoped token changed globex's pipeline: %+v", after)
	}
	if r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + a.ID, token: tokenCMS}); r.status != http.StatusOK {
		t.Errorf("acme's pipeline: %d %s", r.status, r.body)
	}

	for _, q := range []string{"", "?workspace=acme", "?workspace=globex"} {
		r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines" + q, token: tokenCMS})
		if r.status != http.StatusOK {
			t.Fatalf("list%s: %d %s", q, r.status, r.body)
		}
		var ids []string
		for _, rec := range r.page(t).Records {
			ids = append(ids, rec.ID)
		}
		want := []string{a.ID}
		if q == "?workspace=globex" {
			want = nil
		}
		if !slices.Equal(ids, want) {
			t.Errorf("list%s = %v, want %v", q, ids, want)
		}
	}

	// It publishes for its own workspace, named or not, and for no other.
	r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines", token: tokenCMS, body: validRequest("mine")})
	if r.status != http.StatusAccepted || r.record(t).Workspace != "acme" {
		t.Errorf("publish naming no workspace: %d %s, want 202 for acme", r.status, r.body)
	}
	r = w.do(t, call{method: http.MethodPost, path: "/v1/pipelines", token: tokenCMS, body: in("globex", "theirs")})
	if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.problem(t).Detail, `unknown workspace "globex"`) {
		t.Errorf("publish for globex: %d %s, want 422", r.status, r.body)
	}
	if r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + a.ID + "/cancel", token: tokenCMS}); r.status != http.StatusAccepted {
		t.Errorf("cancel acme's pipeline: %d %s", r.status, r.body)
	}

	logs := w.logs.String()
	if !strings.Contains(logs, `"tokenName":"cms"`) || strings.Contains(logs, tokenCMS) {
		t.Errorf("the access log must name the token cms, never its value:\n%s", logs)
	}
}

// The workspaces routes list each workspace with its pause and pause or
// resume one by hand; a scoped token sees and steers its own only, and
// another workspace answers 404 like one that does not exist.
func TestWorkspacePauseRoutes(t *testing.T) {
	t.Parallel()
	w := scopedWorld(t)
	list := func(token string) []tasks.WorkspaceStatus {
		t.Helper()
		r := w.do(t, call{method: http.MethodGet, path: "/v1/workspaces", token: token})
		if r.status != http.StatusOK {
			t.Fatalf("list: %d %s", r.status, r.body)
		}
		var l WorkspaceList
		if err := json.Unmarshal(r.body, &l); err != nil {
			t.Fatal(err)
		}
		return l.Workspaces
	}
	if got := list(""); len(got) != 2 || got[0].Name != "acme" || got[1].Name != "globex" || got[0].Paused || got[1].Paused {
		t.Fatalf("workspaces = %+v", got)
	}
	r := w.do(t, call{method: http.MethodPost, path: "/v1/workspaces/globex/pause", body: `{"why":"client on hold"}`})
	if r.status != http.StatusOK {
		t.Fatalf("pause: %d %s", r.status, r.body)
	}
	if got := list(""); !got[1].Paused || !got[1].ByHand || got[1].Why != "client on hold" || got[0].Paused {
		t.Errorf("after the pause: %+v", got)
	}
	if got := list(tokenCMS); len(got) != 1 || got[0].Name != "acme" {
		t.Errorf("the scoped token lists %+v, want acme alone", got)
	}
	for _, tc := range []struct{ path, token string }{
		{"/v1/workspaces/globex/resume", tokenCMS},
		{"/v1/workspaces/globex/pause", tokenCMS},
		{"/v1/workspaces/initech/pause", ""},
	} {
		if r := w.do(t, call{method: http.MethodPost, path: tc.path, token: tc.token}); r.status != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", tc.path, r.status, r.body)
		}
	}
	if got := list(""); !got[1].Paused || got[1].Why != "client on hold" {
		t.Errorf("a refused resume or pause changed globex: %+v", got[1])
	}
	if r := w.do(t, call{method: http.MethodPost, path: "/v1/workspaces/acme/pause", token: tokenCMS}); r.status != http.StatusOK {
		t.Errorf("the scoped token pausing its own: %d %s", r.status, r.body)
	}
	for _, bad := range []struct {
		call
		status int
	}{
		{call{method: http.MethodPost, path: "/v1/workspaces/globex/pause", body: `{"reason":"x"}`}, http.StatusBadRequest},
		{call{method: http.MethodPost, path: "/v1/workspaces/globex/pause", body: `why`, contentType: "text/plain"}, http.StatusUnsupportedMediaType},
	} {
		if r := w.do(t, bad.call); r.status != bad.status {
			t.Errorf("pause with %s: %d %s, want %d", bad.body, r.status, r.body, bad.status)
		}
	}
	r = w.do(t, call{method: http.MethodPost, path: "/v1/workspaces/globex/resume"})
	if r.status != http.StatusOK {
		t.Fatalf("resume: %d %s", r.status, r.body)
	}
	if got := list(""); got[1].Paused || !got[0].Paused {
		t.Errorf("after the resume: %+v", got)
	}
}

// A reload replaces the file's tokens: a token removed is refused, one
// added is taken, and API_TOKENS stay.
func TestReloadReplacesFileTokens(t *testing.T) {
	t.Parallel()
	w := scopedWorld(t)
	const added = "token-added-by-reload-0123"
	sum := sha256.Sum256([]byte(added))
	w.handler.SetFileTokens([]workspaces.Token{{Name: "newcms", SHA256: hex.EncodeToString(sum[:]), Workspaces: []string{"globex"}}})
	for _, tc := range []struct {
		token string
		want  int
	}{{tokenCMS, http.StatusUnauthorized}, {added, http.StatusOK}, {tokenA, http.StatusOK}} {
		if r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines", token: tc.token}); r.status != tc.want {
			t.Errorf("token %.12s…: %d, want %d", tc.token, r.status, tc.want)
		}
	}
}

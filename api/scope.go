package api

import (
	"net/http"
	"slices"

	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
)

// A token of the workspaces file is scoped to its workspaces: it sees,
// lists and acts on their pipelines only. Another workspace's pipeline
// answers 404 exactly as an id that does not exist, so a scoped token
// cannot learn which ids exist elsewhere; API_TOKENS see everything.

// scopeOf is the workspaces the request's token may act on; nil means
// all of them.
func scopeOf(r *http.Request) *workspaces.Token {
	note, _ := r.Context().Value(authNoteKey{}).(*authNote)
	if note == nil || note.scope == nil || note.scope.All() {
		return nil
	}
	return note.scope
}

// visible reports whether the request's token may see rec.
func visible(r *http.Request, rec *tasks.Record) bool {
	s := scopeOf(r)
	return s == nil || rec == nil || s.Allows(tasks.WorkspaceOf(rec))
}

// owned reads pipeline id before a scoped token acts on it, and answers
// 404 (returning false) when it is not the token's to act on. A
// pipeline's workspace never changes, so the check holds for the action
// that follows. Tokens of every workspace skip the read.
func (h *Handler) owned(w http.ResponseWriter, r *http.Request, id string) bool {
	if scopeOf(r) == nil {
		return true
	}
	rec, err := h.client.Get(r.Context(), id)
	switch {
	case tasks.IsNotFound(err) || (err == nil && !visible(r, rec)):
		pipelineNotFound(w, r, id)
		return false
	case err != nil:
		h.internal(w, r, "read pipeline", err)
		return false
	}
	return true
}

// scopeList narrows a list to the token's workspaces. A workspace asked
// for outside them lists nothing (ok false), as one without pipelines
// would.
func scopeList(r *http.Request, o *tasks.ListOptions) (ok bool) {
	s := scopeOf(r)
	if s == nil {
		return true
	}
	if o.Workspace != "" && !s.Allows(o.Workspace) {
		return false
	}
	o.In = slices.Clone(s.Workspaces)
	return true
}

// scopeRequest fills in a scoped token's one workspace on a request that
// names none, and refuses (as unknown, so the names of other workspaces
// do not leak) one outside its workspaces.
func scopeRequest(r *http.Request, req *tasks.Request) *tasks.WorkspaceError {
	return scopeWorkspace(r, &req.Workspace, "workspace")
}

// scopeWorkspace is scopeRequest for any request naming a workspace in
// *ws (field, in problems): a token scoped to one workspace gets it
// filled in, one scoped to several must name one of them.
func scopeWorkspace(r *http.Request, ws *string, field string) *tasks.WorkspaceError {
	s := scopeOf(r)
	switch {
	case s == nil:
		return nil
	case *ws == "" && len(s.Workspaces) == 1:
		*ws = s.Workspaces[0]
	case *ws == "":
		return &tasks.WorkspaceError{Problem: tasks.Problem{Field: field,
			Message: "required: this token publishes for several workspaces"}}
	case !s.Allows(*ws):
		return &tasks.WorkspaceError{Name: *ws, Problem: tasks.Problem{Field: field,
			Message: "unknown workspace \"" + *ws + "\""}}
	}
	return nil
}

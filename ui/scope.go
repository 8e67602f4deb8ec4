package ui

import (
	"context"
	"fmt"
	"slices"

	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
)

// A session opened with a workspaces-file token sees its workspaces'
// pipelines only, as the API does: another workspace's pipeline is "not
// found" on every page and action, the list and its counts hold its
// workspaces' alone, and the workspace filter offers its workspaces.

// scope is the workspaces the session may see; nil means all of them.
func (s session) scope() *workspaces.Token {
	if s.key == nil || s.key.scope == nil || s.key.scope.All() {
		return nil
	}
	return s.key.scope
}

// sees reports whether the session may see rec.
func (s session) sees(rec *tasks.Record) bool {
	sc := s.scope()
	return sc == nil || sc.Allows(tasks.WorkspaceOf(rec))
}

// get reads pipeline id as the session may see it: another workspace's is
// tasks.ErrNotFound, like an id that does not exist.
func (h *Handler) get(c context.Context, s session, id string) (*tasks.Record, error) {
	rec, err := h.client.Get(c, id)
	if err == nil && !s.sees(rec) {
		return nil, fmt.Errorf("%w: %s", tasks.ErrNotFound, id)
	}
	return rec, err
}

// owns checks, before an action, that the session may act on pipeline
// id; sessions of every workspace skip the read.
func (h *Handler) owns(c context.Context, s session, id string) error {
	if s.scope() == nil {
		return nil
	}
	_, err := h.get(c, s, id)
	return err
}

// workspaces are those the session may see, each with its pause: the
// fleet's, narrowed to the session's.
func (h *Handler) workspaces(c context.Context, s session) ([]tasks.WorkspaceStatus, error) {
	all, err := h.client.WorkspaceStatuses(c)
	if err != nil {
		return nil, err
	}
	sc := s.scope()
	if sc == nil {
		return all, nil
	}
	return slices.DeleteFunc(all, func(ws tasks.WorkspaceStatus) bool { return !sc.Allows(ws.Name) }), nil
}

package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// bulk is POST /v1/pipelines/bulk: an action (cancel, replay, reschedule,
// redeliver) on every pipeline a filter matches, run in the background
// of this process; 202 with the operation, followed at
// GET /v1/operations/{id}. A token scoped to workspaces acts within them
// only: the filter's workspace is its own, or one of its own it names.
func (h *Handler) bulk(w http.ResponseWriter, r *http.Request) {
	body, ok := h.readJSONBody(w, r)
	if !ok {
		return
	}
	req, err := tasks.DecodeBulk(body)
	if err != nil {
		p := Problem{Type: typeMalformed, Status: http.StatusBadRequest, Detail: err.Error()}
		if uf := (*tasks.UnknownFieldError)(nil); errors.As(err, &uf) {
			p.Errors = []tasks.Problem{uf.Problem()}
		}
		writeProblem(w, r, p)
		return
	}
	if unknown := scopeWorkspace(r, &req.Filter.Workspace, "filter.workspace"); unknown != nil {
		writeProblem(w, r, Problem{Type: typeWorkspace, Status: http.StatusUnprocessableEntity,
			Detail: unknown.Error() + "; nothing was started", Errors: []tasks.Problem{unknown.Problem}})
		return
	}
	ctx, cancel := detached(r)
	defer cancel()
	op, err := h.client.StartBulk(ctx, req, who(r))
	var invalid *tasks.ValidationError
	switch {
	case errors.As(err, &invalid):
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest,
			Detail: "the bulk request is invalid; nothing was started", Errors: invalid.Problems})
		return
	case err != nil:
		h.internal(w, r, "start bulk operation", err)
		return
	}
	w.Header().Set("Location", "/v1/operations/"+op.ID)
	h.writeJSON(w, r, http.StatusAccepted, op)
}

// operation is GET /v1/operations/{id}: a bulk operation's progress. A
// scoped token sees only operations on one of its workspaces; another's
// answers 404 as an unknown id does.
func (h *Handler) operation(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	op, err := h.client.Operation(r.Context(), id)
	s := scopeOf(r)
	switch {
	case errors.Is(err, tasks.ErrOperationNotFound) || (err == nil && s != nil && !s.Allows(op.Request.Filter.Workspace)):
		writeProblem(w, r, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: fmt.Sprintf("no operation %q", id)})
	case err != nil:
		h.internal(w, r, "read operation", err)
	default:
		h.writeJSON(w, r, http.StatusOK, op)
	}
}

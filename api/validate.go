package api

import (
	"errors"
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// validate is POST /v1/pipelines/validate: a dry run of publish. The body
// is a publish request; the answer (200) says whether it would be
// accepted and could publish, with every problem and warning pre-flight
// finds and each media item probed. Nothing is stored or queued, and
// nothing is created on Swonkie. A request that is not one (malformed)
// is 400 as for publish; a problem of a request that is one is an entry
// of the answer, never a 4xx, so the caller reads them all in one place.
func (h *Handler) validate(w http.ResponseWriter, r *http.Request) {
	req, ok := h.readRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := detached(r)
	defer cancel()
	// A scoped token's request was checked against its own workspaces as
	// it was read (readRequest): a dry run would otherwise tell another
	// workspace's profiles apart.
	res, err := h.client.Check(ctx, req)
	var unknown *tasks.WorkspaceError
	switch {
	case errors.As(err, &unknown):
		writeProblem(w, r, Problem{Type: typeWorkspace, Status: http.StatusUnprocessableEntity,
			Detail: unknown.Error(), Errors: []tasks.Problem{unknown.Problem}})
		return
	case err != nil:
		h.internal(w, r, "validate", err)
		return
	}
	h.writeJSON(w, r, http.StatusOK, res)
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/mediaflow/mediaflow/tasks"
)

// get is GET /v1/pipelines/{id}.
func (h *Handler) get(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	rec, err := h.client.Get(r.Context(), id)
	switch {
	case tasks.IsNotFound(err) || (err == nil && !visible(r, rec)):
		pipelineNotFound(w, r, id)
	case err != nil:
		h.internal(w, r, "read pipeline", err)
	default:
		h.writeJSON(w, r, http.StatusOK, rec)
	}
}

// list is GET /v1/pipelines.
func (h *Handler) list(w http.ResponseWriter, r *http.Request) {
	opts, problems := listOptions(r.URL.Query())
	if len(problems) > 0 {
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest,
			Detail: "the query is invalid", Errors: problems})
		return
	}
	if !scopeList(r, &opts) {
		h.writeJSON(w, r, http.StatusOK, &tasks.RecordPage{Records: []*tasks.Record{}})
		return
	}
	page, err := h.client.List(r.Context(), opts)
	var invalid *tasks.ValidationError
	switch {
	case errors.As(err, &invalid):
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest,
			Detail: "the query is invalid", Errors: invalid.Problems})
	case errors.Is(err, tasks.ErrBadCursor):
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest, Detail: "the query is invalid",
			Errors: []tasks.Problem{{Field: "cursor", Message: "not a cursor this API made; pass the previous page's next"}}})
	case err != nil:
		h.internal(w, r, "list pipelines", err)
	default:
		h.writeJSON(w, r, http.StatusOK, page)
	}
}

// listOptions reads the list query strictly: a mistyped parameter would
// otherwise list every pipeline instead of the ones asked for.
func listOptions(q url.Values) (tasks.ListOptions, []tasks.Problem) {
	var o tasks.ListOptions
	var ps []tasks.Problem
	for name, vals := range q {
		switch name {
		case "state", "limit", "cursor", "workspace":
			if len(vals) > 1 {
				ps = append(ps, tasks.Problem{Field: name, Message: "given more than once"})
			}
		default:
			ps = append(ps, tasks.Problem{Field: name, Message: "unknown query parameter; want state, workspace, limit or cursor"})
		}
	}
	o.State = tasks.State(q.Get("state"))
	o.Cursor = q.Get("cursor")
	o.Workspace = q.Get("workspace")
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > tasks.MaxListLimit {
			ps = append(ps, tasks.Problem{Field: "limit", Message: fmt.Sprintf("want a whole number from 1 to %d, got %q", tasks.MaxListLimit, s)})
		}
		o.Limit = n
	}
	return o, ps
}

// cancel is POST /v1/pipelines/{id}/cancel.
func (h *Handler) cancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.owned(w, r, id) {
		return
	}
	ctx, stop := detached(r)
	defer stop()
	rec, err := h.client.Cancel(ctx, id)
	switch {
	case tasks.IsNotFound(err):
		pipelineNotFound(w, r, id)
	case errors.Is(err, tasks.ErrFinished):
		writeProblem(w, r, Problem{Type: typeFinished, Status: http.StatusConflict, PipelineID: id,
			Detail: "the pipeline already finished; there is nothing to cancel"})
	case errors.Is(err, tasks.ErrAlreadyPublished):
		writeProblem(w, r, Problem{Type: typeAlreadyPublished, Status: http.StatusConflict, PipelineID: id,
			Detail: "the post is already published; a cancel comes too late"})
	case err != nil && rec == nil:
		h.internal(w, r, "cancel pipeline", err)
	default:
		if err != nil {
			// The cancel is recorded: the pipeline's next step honours it,
			// and the sweep retries cleanups that are owed.
			h.log.Warn().Ctx(r.Context()).Err(err).Str("pipeline", id).Msg("api: enqueue the cancel cleanup failed; the sweep will clean up")
		}
		w.Header().Set("Location", "/v1/pipelines/"+rec.ID)
		h.writeJSON(w, r, http.StatusAccepted, rec)
	}
}

func pipelineNotFound(w http.ResponseWriter, r *http.Request, id string) {
	writeProblem(w, r, Problem{Type: typeNotFound, Status: http.StatusNotFound,
		Detail: fmt.Sprintf("no pipeline %q", id)})
}

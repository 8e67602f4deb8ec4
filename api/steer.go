package api

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// Problem types of the routes that steer a pipeline (edit, replay). They
// live here, like typeNoWebhook, so the routes stay one file to read.
const (
	typeBusy          = "urn:mediaflow:problem:busy"
	typeNotReplayable = "urn:mediaflow:problem:not-replayable"
)

// who names the caller in a pipeline's history: the slot of the token it
// presented, or a workspaces-file token's name (never the token).
func who(r *http.Request) string {
	note, _ := r.Context().Value(authNoteKey{}).(*authNote)
	switch {
	case note != nil && note.name != "":
		return "api token " + note.name
	case note != nil && note.slot >= 0:
		return fmt.Sprintf("api token %d", note.slot+1)
	}
	return "api"
}

// readEdit reads an edit body; an empty body is the empty edit.
func (h *Handler) readEdit(w http.ResponseWriter, r *http.Request, optional bool) (tasks.Edit, bool) {
	if optional && r.ContentLength == 0 {
		return tasks.Edit{}, true
	}
	body, ok := h.readJSONBody(w, r)
	if !ok {
		return tasks.Edit{}, false
	}
	e, err := tasks.DecodeEditBytes(body)
	if err != nil {
		p := Problem{Type: typeMalformed, Status: http.StatusBadRequest, Detail: err.Error()}
		if uf := (*tasks.UnknownFieldError)(nil); errors.As(err, &uf) {
			p.Errors = []tasks.Problem{uf.Problem()}
		}
		writeProblem(w, r, p)
		return tasks.Edit{}, false
	}
	return e, true
}

// edit is PATCH /v1/pipelines/{id}: a body of the publish request's shape
// holding only what changes ({"post": {"caption": "…", "publishAt":
// "…"}}). The change is recorded at once and put on the post by the
// worker; 409 when it cannot be applied whole now.
func (h *Handler) edit(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := h.readEdit(w, r, false)
	if !ok || !h.owned(w, r, id) {
		return
	}
	ctx, stop := detached(r)
	defer stop()
	rec, err := h.client.Edit(ctx, id, e, who(r))
	h.steered(w, r, id, rec, err, "edit pipeline")
}

// replay is POST /v1/pipelines/{id}/replay: a failed or cancelled
// pipeline runs again under the same id and key, with the edit of the
// optional body first.
func (h *Handler) replay(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	e, ok := h.readEdit(w, r, true)
	if !ok || !h.owned(w, r, id) {
		return
	}
	ctx, stop := detached(r)
	defer stop()
	rec, err := h.client.Replay(ctx, id, e, who(r))
	h.steered(w, r, id, rec, err, "replay pipeline")
}

// steered answers an edit or a replay.
func (h *Handler) steered(w http.ResponseWriter, r *http.Request, id string, rec *tasks.Record, err error, what string) {
	var invalid *tasks.ValidationError
	switch {
	case tasks.IsNotFound(err):
		pipelineNotFound(w, r, id)
	case errors.As(err, &invalid):
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest, PipelineID: id,
			Detail: "the change is invalid; nothing was changed", Errors: invalid.Problems})
	case errors.Is(err, tasks.ErrBusy):
		w.Header().Set("Retry-After", "2")
		writeProblem(w, r, Problem{Type: typeBusy, Status: http.StatusConflict, PipelineID: id,
			Detail: "a step is acting on the post right now; nothing was changed, try again in a few seconds"})
	case errors.Is(err, tasks.ErrFinished):
		writeProblem(w, r, Problem{Type: typeFinished, Status: http.StatusConflict, PipelineID: id,
			Detail: "the pipeline already finished (or a cancel was asked for); replay it to run it again"})
	case errors.Is(err, tasks.ErrAlreadyPublished):
		writeProblem(w, r, Problem{Type: typeAlreadyPublished, Status: http.StatusConflict, PipelineID: id,
			Detail: "the post is published or being published; it can no longer change"})
	case errors.Is(err, tasks.ErrNotReplayable):
		writeProblem(w, r, Problem{Type: typeNotReplayable, Status: http.StatusConflict, PipelineID: id,
			Detail: err.Error()})
	case err != nil && rec == nil:
		h.internal(w, r, what, err)
	default:
		if err != nil {
			// Recorded; the sweep enqueues what the record plans.
			h.log.Warn().Ctx(r.Context()).Err(err).Str("pipeline", id).Msg("api: enqueue after " + what + " failed; the sweep will")
		}
		w.Header().Set("Location", "/v1/pipelines/"+rec.ID)
		h.writeJSON(w, r, http.StatusAccepted, rec)
	}
}

package api

import (
	"errors"
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// typeNoWebhook lives here rather than with the other problem types so
// that the redeliver route stays one file to read.
const typeNoWebhook = "urn:mediaflow:problem:no-webhook"

// redeliver is POST /v1/pipelines/{id}/webhook/redeliver: the pipeline's
// last webhook event is sent again under the same webhook-id, so a
// receiver that lost it (or answered 410 and changed its mind) gets it
// while one that has it already drops the copy.
func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !h.owned(w, r, id) {
		return
	}
	// The redelivery is recorded and queued even if the caller hangs up:
	// half of it (recorded, never queued) would wait for the sweep.
	ctx, stop := detached(r)
	defer stop()
	rec, err := h.client.Redeliver(ctx, id)
	switch {
	case tasks.IsNotFound(err):
		pipelineNotFound(w, r, id)
	case errors.Is(err, tasks.ErrNoWebhook):
		writeProblem(w, r, Problem{Type: typeNoWebhook, Status: http.StatusConflict, PipelineID: id,
			Detail: "the pipeline has no webhook event to send: it names no webhook, or it has not reached an event yet"})
	case err != nil && rec == nil:
		h.internal(w, r, "redeliver webhook", err)
	default:
		if err != nil {
			// Recorded as pending: the sweep re-enqueues owed deliveries.
			h.log.Warn().Ctx(r.Context()).Err(err).Str("pipeline", id).Msg("api: enqueue the webhook redelivery failed; the sweep will send it")
		}
		w.Header().Set("Location", "/v1/pipelines/"+rec.ID)
		h.writeJSON(w, r, http.StatusAccepted, rec)
	}
}

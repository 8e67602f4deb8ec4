package ui

import (
	"errors"
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// A pipeline's actions: a GET of /ui/pipelines/{id}/{action} asks to
// confirm, and the POST its form sends does it, then shows the pipeline
// again (POST, redirect, GET: reloading does not act twice).

func (h *Handler) confirmCancel(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	h.confirm(w, r, s, confirmView{
		Question: "Cancel this pipeline?",
		Detail:   "Its running step is interrupted, its post withdrawn and its media deleted. A post already published stays published.",
		Action:   Prefix + "pipelines/" + id + "/cancel", Button: "Yes, cancel it", Danger: true,
		Rows: h.rowsOf(r, s, []string{id}), Back: Prefix + "pipelines/" + id,
	})
}

func (h *Handler) confirmRedeliver(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	h.confirm(w, r, s, confirmView{
		Question: "Send the webhook event again?",
		Detail:   "The pipeline's last event is delivered again under the same webhook-id: a receiver that took it already drops it.",
		Action:   Prefix + "pipelines/" + id + "/redeliver", Button: "Yes, redeliver",
		Rows: h.rowsOf(r, s, []string{id}), Back: Prefix + "pipelines/" + id,
	})
}

// redeliver sends the pipeline's last webhook event again.
func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	c, stop := detached(r)
	defer stop()
	var rec *tasks.Record
	err := h.owns(c, s, id)
	if err == nil {
		rec, err = h.client.Redeliver(c, id)
	}
	notice := "redelivery"
	switch {
	case tasks.IsNotFound(err):
		h.fail(w, r, &s, http.StatusNotFound, "There is no pipeline "+id+".")
		return
	case errors.Is(err, tasks.ErrNoWebhook):
		notice = "no-webhook"
	case err != nil && rec == nil:
		h.internal(w, r, &s, "redeliver the webhook", err)
		return
	case err != nil:
		h.log.Warn().Err(err).Str("pipeline", id).Msg("ui: enqueue the redelivery failed; the sweep will send it")
	}
	h.log.Info().Str("pipeline", id).Str("outcome", notice).Msg("ui: redeliver")
	http.Redirect(w, r, Prefix+"pipelines/"+id+"?notice="+notice, http.StatusSeeOther)
}

func (h *Handler) confirmReplay(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	h.confirm(w, r, s, confirmView{
		Question: "Replay this pipeline?",
		Detail: "It runs again under the same id and key: media still ready are used again, the others uploaded again, " +
			"and a post an earlier attempt made is adopted, never made twice.",
		Action: Prefix + "pipelines/" + id + "/replay", Button: "Yes, replay it",
		Rows: h.rowsOf(r, s, []string{id}), Back: Prefix + "pipelines/" + id,
	})
}

// replay runs a failed or cancelled pipeline again, as it was asked (the
// API's replay with an empty body; edits are the API's and the CLI's).
func (h *Handler) replay(w http.ResponseWriter, r *http.Request, s session) {
	id := r.PathValue("id")
	c, stop := detached(r)
	defer stop()
	var rec *tasks.Record
	err := h.owns(c, s, id)
	if err == nil {
		rec, err = h.client.Replay(c, id, tasks.Edit{}, "the pipelines page")
	}
	notice := "replayed"
	switch {
	case tasks.IsNotFound(err):
		h.fail(w, r, &s, http.StatusNotFound, "There is no pipeline "+id+".")
		return
	case errors.Is(err, tasks.ErrNotReplayable):
		notice = "not-replayable"
	case errors.Is(err, tasks.ErrAlreadyPublished):
		notice = "published"
	case err != nil && rec == nil:
		h.internal(w, r, &s, "replay the pipeline", err)
		return
	case err != nil:
		// Recorded: the sweep enqueues the steps of a reopened pipeline.
		h.log.Warn().Err(err).Str("pipeline", id).Msg("ui: enqueue the replay failed; the sweep will enqueue it")
	}
	h.log.Info().Str("pipeline", id).Str("outcome", notice).Msg("ui: replay")
	http.Redirect(w, r, Prefix+"pipelines/"+id+"?notice="+notice, http.StatusSeeOther)
}

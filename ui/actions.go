package ui

import (
	"context"
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

// The page's three pipeline actions, each told by what act needs: the
// client call, the notices of the refusals the page explains, and who
// picks up a decision recorded whose tasks could not be enqueued.
var (
	cancelAction = pipelineAction{
		name: "cancel", what: "cancel the pipeline", done: "cancel-requested",
		do:       func(h *Handler, c context.Context, id string) (*tasks.Record, error) { return h.client.Cancel(c, id) },
		refusals: []refusal{{tasks.ErrFinished, "finished"}, {tasks.ErrAlreadyPublished, "published"}},
		// The next step honours a recorded cancel and the sweep cleans up.
		pickedUp: "enqueue the cancel cleanup failed; the sweep will clean up",
	}
	redeliverAction = pipelineAction{
		name: "redeliver", what: "redeliver the webhook", done: "redelivery",
		do: func(h *Handler, c context.Context, id string) (*tasks.Record, error) {
			return h.client.Redeliver(c, id)
		},
		refusals: []refusal{{tasks.ErrNoWebhook, "no-webhook"}},
		pickedUp: "enqueue the redelivery failed; the sweep will send it",
	}
	// replay runs a failed or cancelled pipeline again, as it was asked
	// (the API's replay with an empty body; edits are the API's and the
	// CLI's).
	replayAction = pipelineAction{
		name: "replay", what: "replay the pipeline", done: "replayed",
		do: func(h *Handler, c context.Context, id string) (*tasks.Record, error) {
			return h.client.Replay(c, id, tasks.Edit{}, "the pipelines page")
		},
		refusals: []refusal{{tasks.ErrNotReplayable, "not-replayable"}, {tasks.ErrAlreadyPublished, "published"}},
		// The request as it was asked may no longer be valid (its
		// publishAt passed): the person is told, not shown a 500.
		invalid:  "replay-invalid",
		pickedUp: "enqueue the replay failed; the sweep will enqueue it",
	}
)

func (h *Handler) cancel(w http.ResponseWriter, r *http.Request, s session) {
	h.act(w, r, s, cancelAction)
}

func (h *Handler) redeliver(w http.ResponseWriter, r *http.Request, s session) {
	h.act(w, r, s, redeliverAction)
}

func (h *Handler) replay(w http.ResponseWriter, r *http.Request, s session) {
	h.act(w, r, s, replayAction)
}

// pipelineAction is what one of a pipeline's actions does and how the
// page tells its outcome.
type pipelineAction struct {
	name     string // in the log
	what     string // in the error page: "could not <what>"
	done     string // the notice when it was done
	do       func(h *Handler, c context.Context, id string) (*tasks.Record, error)
	refusals []refusal
	// invalid, when set, is the notice for a *tasks.ValidationError: the
	// client refused the action for what the request says.
	invalid string
	// pickedUp is logged when the client recorded the action (it returned
	// the record) but failed to enqueue its tasks: who will do them.
	pickedUp string
}

// refusal is an error the client refuses an action with, and the notice
// the page shows for it.
type refusal struct {
	err    error
	notice string
}

// act does a on the pipeline the path names, for a session that owns it,
// then shows the pipeline again with a notice (POST, redirect, GET:
// reloading the page does not act twice).
func (h *Handler) act(w http.ResponseWriter, r *http.Request, s session, a pipelineAction) {
	id := r.PathValue("id")
	// An action that reached Redis should not be cut short by a browser
	// that went away.
	c, stop := detached(r)
	defer stop()
	var rec *tasks.Record
	err := h.owns(c, s, id)
	if err == nil {
		rec, err = a.do(h, c, id)
	}
	notice := a.done
	if tasks.IsNotFound(err) {
		h.fail(w, r, &s, http.StatusNotFound, "There is no pipeline "+id+".")
		return
	}
	if err != nil {
		refused := false
		for _, rf := range a.refusals {
			if errors.Is(err, rf.err) {
				notice, refused = rf.notice, true
				break
			}
		}
		if invalid := (*tasks.ValidationError)(nil); !refused && a.invalid != "" && errors.As(err, &invalid) {
			notice, refused = a.invalid, true
		}
		switch {
		case refused:
		case rec == nil:
			h.internal(w, r, &s, a.what, err)
			return
		default:
			h.log.Warn().Err(err).Str("pipeline", id).Msg("ui: " + a.pickedUp)
		}
	}
	h.log.Info().Str("pipeline", id).Str("outcome", notice).Msg("ui: " + a.name)
	http.Redirect(w, r, Prefix+"pipelines/"+id+"?notice="+notice, http.StatusSeeOther)
}

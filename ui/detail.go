package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

type detailView struct {
	Rec      *tasks.Record
	Timeline []entry
	// Cancellable: the pipeline runs and its post is not out, so a cancel
	// would be taken.
	Cancellable bool
	// Redeliverable: it sent a webhook event, which can be sent again.
	Redeliverable bool
	// Replayable: it failed or was cancelled, its cleanup is done and its
	// post is not out, so a replay would be taken.
	Replayable bool
	// Took is how long the pipeline ran (or has run so far).
	Took      time.Duration
	Notice    string
	LastError *tasks.StepError
	Version   string // see listView.Version
	// Content is what the post says; MediaNotes where each item goes.
	Content    []contentRow
	MediaNotes []string
	// TraceURL links to the pipeline's trace (TRACE_URL_TEMPLATE), ""
	// without a template or a trace.
	TraceURL string
}

// entry is one history event with the attempt it was of and the time
// since the event before it (HasGap false on the first).
type entry struct {
	tasks.Event
	Attempt int
	Gap     time.Duration
	HasGap  bool
}

// timeline numbers each event's attempt: the runs of one step (for one
// media item) count up after each retry.
func timeline(h []tasks.Event) []entry {
	type key struct {
		step tasks.Step
		item int
	}
	retries := map[key]int{}
	out := make([]entry, len(h))
	for i, e := range h {
		k := key{e.Step, -1}
		if e.Item != nil {
			k.item = *e.Item
		}
		out[i] = entry{Event: e, Attempt: retries[k] + 1}
		if i > 0 {
			out[i].Gap, out[i].HasGap = e.At.Sub(h[i-1].At), true
		}
		if e.Outcome == "retry" || e.Outcome == "rate_limited" {
			retries[k]++
		}
	}
	return out
}

// notices are the outcomes a cancel redirects with: a fixed set, so the
// page never echoes text from the URL.
var notices = map[string]string{
	"cancel-requested": "Cancel requested: the running step is interrupted, the post withdrawn and the media deleted.",
	"finished":         "The pipeline had already finished; there was nothing to cancel.",
	"published":        "The post was already published; a cancel came too late.",
	"redelivery":       "The last webhook event is on its way again.",
	"no-webhook":       "This pipeline has sent no webhook event; there is nothing to redeliver.",
	"replayed":         "Replayed: the pipeline runs again under the same id.",
	"not-replayable":   "Only a failed or cancelled pipeline whose cleanup is done can be replayed.",
	"replay-invalid":   "The pipeline cannot run again as it was asked (its publishAt has passed, say): replay it with a change, from the API or enqueue replay.",
}

func replayable(r *tasks.Record) bool {
	return (r.State == tasks.StateFailed || r.State == tasks.StateCancelled) && r.Cleanup != tasks.CleanupPending && r.PublishedAt == nil
}

func cancellable(r *tasks.Record) bool {
	return !r.State.Terminal() && r.PublishedAt == nil && !r.CancelRequested
}

func (h *Handler) detail(w http.ResponseWriter, r *http.Request, s session) {
	c, stop := pageCtx(r)
	defer stop()
	id := r.PathValue("id")
	rec, err := h.get(c, s, id)
	switch {
	case tasks.IsNotFound(err):
		h.fail(w, r, &s, http.StatusNotFound, "There is no pipeline "+id+".")
		return
	case err != nil:
		h.internal(w, r, &s, "read the pipeline", err)
		return
	}
	v := detailView{Rec: rec, Timeline: timeline(rec.History), Cancellable: cancellable(rec),
		Notice: notices[r.URL.Query().Get("notice")], LastError: rec.LastError(),
		Content: postContent(rec), MediaNotes: mediaNotes(rec), TraceURL: TraceURL(h.traceURL, rec.TraceID)}
	v.Redeliverable = rec.Webhook != nil && len(rec.Webhook.Events) > 0
	v.Replayable = replayable(rec)
	v.Took = h.now().Sub(rec.CreatedAt)
	if rec.FinishedAt != nil {
		v.Took = rec.FinishedAt.Sub(rec.CreatedAt)
	}
	v.Version = version(rec.UpdatedAt.Format(time.RFC3339Nano), v.Notice)
	h.renderPage(w, r, http.StatusOK, "detail", &s, page{Title: "Pipeline " + rec.ID, Nav: "detail",
		Refresh: !rec.State.Terminal(), Live: true, Body: v})
}

func detached(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), 15*time.Second)
}

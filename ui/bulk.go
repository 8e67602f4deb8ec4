package ui

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/mediaflow/mediaflow/tasks"
)

// maxSelected bounds a selection: the rows of a few pages. Larger sets
// are the bulk operations' (by filter), not a form's.
const maxSelected = 100

// bulkActions are what selected rows can be given: the verb in the
// question and the notice.
var bulkActions = map[string]string{"cancel": "Cancel"}

// bulk acts on the rows selected in the list. The first POST asks to
// confirm (listing what was picked); the form of that page posts again
// with confirm=yes, and the list comes back with what happened.
func (h *Handler) bulk(w http.ResponseWriter, r *http.Request, s session) {
	action := r.PostFormValue("action")
	verb, ok := bulkActions[action]
	if !ok {
		h.fail(w, r, &s, http.StatusBadRequest, "Pick an action for the selected pipelines.")
		return
	}
	var ids []string
	seen := map[string]bool{}
	for _, id := range r.PostForm["id"] {
		if _, err := uuid.Parse(id); err != nil || seen[id] {
			continue
		}
		seen[id] = true
		ids = append(ids, id)
	}
	back := localNext(r.PostFormValue("back"))
	switch {
	case len(ids) == 0:
		h.fail(w, r, &s, http.StatusBadRequest, "No pipeline was selected: tick the rows to act on first.")
		return
	case len(ids) > maxSelected:
		h.fail(w, r, &s, http.StatusBadRequest, fmt.Sprintf("At most %d pipelines can be selected at once.", maxSelected))
		return
	}
	if r.PostFormValue("confirm") != "yes" {
		fields := []field{{"action", action}, {"back", back}, {"confirm", "yes"}}
		for _, id := range ids {
			fields = append(fields, field{"id", id})
		}
		h.confirm(w, r, s, confirmView{
			Question: fmt.Sprintf("%s %d pipelines?", verb, len(ids)),
			Detail:   "Each running step is interrupted, each post withdrawn and its media deleted. Pipelines that already finished, or whose post is out, are left as they are.",
			Action:   Prefix + "bulk", Button: fmt.Sprintf("Yes, %s %d", action, len(ids)), Danger: true,
			Fields: fields, Rows: h.rowsOf(r, s, ids), Back: back,
		})
		return
	}
	// One cancel per pipeline, as the pipeline's own page would send.
	c, stop := detached(r)
	defer stop()
	var done, skipped, failed int
	for _, id := range ids {
		var rec *tasks.Record
		err := h.owns(c, s, id)
		if err == nil {
			rec, err = h.client.Cancel(c, id)
		}
		switch {
		case errors.Is(err, tasks.ErrFinished), errors.Is(err, tasks.ErrAlreadyPublished), tasks.IsNotFound(err):
			skipped++
		case err != nil && rec == nil:
			failed++
			h.log.Warn().Err(err).Str("pipeline", id).Msg("ui: bulk cancel")
		default:
			// Recorded; a cleanup that could not be enqueued is the sweep's.
			done++
		}
	}
	h.log.Info().Int("done", done).Int("skipped", skipped).Int("failed", failed).Msg("ui: bulk " + action)
	u, _ := url.Parse(back)
	q := u.Query()
	for k, v := range map[string]int{"done": done, "skipped": skipped, "failed": failed} {
		q.Set(k, strconv.Itoa(v))
	}
	q.Set("notice", "bulk")
	q.Set("action", action)
	q.Del("cursor")
	q.Del("before")
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// bulkNotice says what a bulk action did, from numbers alone.
func bulkNotice(q url.Values) string {
	verb, ok := bulkActions[q.Get("action")]
	if !ok {
		return ""
	}
	n := func(k string) int {
		v, _ := strconv.Atoi(q.Get(k))
		return max(v, 0)
	}
	msg := fmt.Sprintf("%s: %d done", verb, n("done"))
	if k := n("skipped"); k > 0 {
		msg += fmt.Sprintf(", %d left as they were (finished or published)", k)
	}
	if k := n("failed"); k > 0 {
		msg += fmt.Sprintf(", %d failed (see the worker's log)", k)
	}
	return msg + "."
}

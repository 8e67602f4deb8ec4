package ui

import (
	"net/http"
)

// confirmView is a question asked before an action that changes a
// pipeline: a page of its own, so the action needs no script and the
// keyboard reaches it like any form. Its form posts, with the session's
// CSRF token, to Action.
type confirmView struct {
	Question string
	Detail   string
	Action   string
	Button   string
	Danger   bool
	Fields   []field
	// Rows are the pipelines it acts on, listed for the person to check.
	Rows []row
	Back string
}

type field struct{ Name, Value string }

// rowsOf reads the pipelines an action names, for its question; one
// that cannot be read (or is another workspace's) is listed by its id
// alone.
func (h *Handler) rowsOf(r *http.Request, s session, ids []string) []row {
	c, stop := pageCtx(r)
	defer stop()
	out := make([]row, 0, len(ids))
	for _, id := range ids {
		rec, err := h.get(c, s, id)
		if err != nil {
			out = append(out, row{ID: id})
			continue
		}
		out = append(out, newRow(rec))
	}
	return out
}

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, s session, v confirmView) {
	h.renderPage(w, r, http.StatusOK, "confirm", &s, page{Title: v.Question, Nav: "confirm", Body: v})
}

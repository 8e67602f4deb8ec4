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
	// IDs are the pipelines it acts on, listed for the person to check.
	IDs  []string
	Back string
}

type field struct{ Name, Value string }

func (h *Handler) confirm(w http.ResponseWriter, r *http.Request, s session, v confirmView) {
	h.renderPage(w, r, http.StatusOK, "confirm", &s, page{Title: v.Question, Nav: "confirm", Body: v})
}

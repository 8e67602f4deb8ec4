package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/mediaflow/mediaflow/tasks"
)

// pageSize is how many pipelines a list page shows.
const pageSize = 25

type listView struct {
	States  []tasks.State
	State   string
	Q       string
	Rows    []row
	Next    string // the following page's URL, "" on the last
	First   bool   // no cursor: this is the newest page
	Lookup  bool   // the list is the answer to a key or id search
	Problem string
	// Version changes whenever a row does (not when only ages move on):
	// the script swaps the list only then, so a link being clicked or
	// focused is not replaced under the pointer every few seconds.
	Version string
}

// row is one pipeline as `enqueue list` shows it.
type row struct {
	ID, Key   string
	State     tasks.State
	Step      tasks.Step
	Made      int
	Deleted   int
	PostStage string
	Created   time.Time
	Updated   time.Time
	LastError string
	Cancel    bool
}

func newRow(r *tasks.Record) row {
	v := row{ID: r.ID, Key: r.Key, State: r.State, Step: r.Step, PostStage: r.PostStage, Created: r.CreatedAt, Updated: r.UpdatedAt}
	for _, m := range r.Media {
		if m.MediaID != "" {
			v.Made++
		}
		if m.Deleted {
			v.Deleted++
		}
	}
	for _, s := range r.StaleMedia {
		v.Made++
		if s.Deleted {
			v.Deleted++
		}
	}
	if e := r.LastError(); e != nil {
		v.LastError = clip(e.Message, 80)
	}
	return v
}

// list is the pipelines, newest first: one page of them, or the one a
// key or id search names.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	v := listView{States: tasks.States, State: q.Get("state"), Q: strings.TrimSpace(q.Get("q"))}
	state := tasks.State(v.State)
	if v.State != "" && !isState(state) {
		v.Problem = "There is no state \u201c" + v.State + "\u201d; pick one from the list."
		h.renderList(w, r, s, http.StatusBadRequest, v)
		return
	}
	c, stop := pageCtx(r)
	defer stop()
	if v.Q != "" {
		v.Lookup = true
		rec, err := h.lookup(c, v.Q)
		switch {
		case err != nil:
			h.internal(w, r, &s, "look the pipeline up", err)
			return
		case rec != nil && (state == "" || rec.State == state):
			v.Rows = []row{newRow(rec)}
		}
		h.renderList(w, r, s, http.StatusOK, v)
		return
	}
	cursor := q.Get("cursor")
	v.First = cursor == ""
	pg, err := h.client.List(c, tasks.ListOptions{State: state, Limit: pageSize, Cursor: cursor})
	switch {
	case errors.Is(err, tasks.ErrBadCursor):
		v.Problem = "That page link is not one these pages made (or it is too old); start again from the newest."
		h.renderList(w, r, s, http.StatusBadRequest, v)
		return
	case err != nil:
		h.internal(w, r, &s, "list the pipelines", err)
		return
	}
	for _, rec := range pg.Records {
		v.Rows = append(v.Rows, newRow(rec))
	}
	if pg.Next != "" {
		nq := url.Values{"cursor": {pg.Next}}
		if v.State != "" {
			nq.Set("state", v.State)
		}
		v.Next = Prefix + "?" + nq.Encode()
	}
	h.renderList(w, r, s, http.StatusOK, v)
}

func (h *Handler) renderList(w http.ResponseWriter, r *http.Request, s session, status int, v listView) {
	refresh := false
	parts := []string{v.Problem, v.Next}
	for _, rw := range v.Rows {
		refresh = refresh || !rw.State.Terminal()
		parts = append(parts, rw.ID, rw.Updated.Format(time.RFC3339Nano))
	}
	v.Version = version(parts...)
	h.renderPage(w, r, status, "list", &s, page{Title: "Pipelines", Nav: "list", Refresh: refresh, Body: v})
}

// lookup finds the pipeline q names: its id, or the idempotency key it was
// published under (ids are derived from keys, so that is a Get too).
// Neither is an error, only an empty answer.
func (h *Handler) lookup(c context.Context, q string) (*tasks.Record, error) {
	if _, err := uuid.Parse(q); err == nil {
		rec, err := h.client.Get(c, q)
		if err == nil || !tasks.IsNotFound(err) {
			return rec, err
		}
	}
	rec, err := h.client.Get(c, tasks.PipelineID(q))
	switch {
	case tasks.IsNotFound(err):
		return nil, nil
	case err != nil:
		return nil, err
	case rec.Key != q:
		return nil, nil
	}
	return rec, nil
}

func isState(s tasks.State) bool {
	for _, x := range tasks.States {
		if x == s {
			return true
		}
	}
	return false
}

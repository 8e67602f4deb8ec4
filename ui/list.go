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
	States []tasks.State
	// Counts are every state's pipelines now, each a link that filters.
	Counts []stateCount
	All    int64
	F      filter
	Rows   []row
	// Total is how many pipelines the states and dates hold; From and To
	// the places of the first and last row among them (1-based). Counted
	// says Total is exact for what the list shows (no profile, label or
	// text narrows it).
	Total    int64
	From, To int64
	Counted  bool
	// Scanned and Partial: a text, profile or label search read this many
	// records and stopped before the page was full.
	Scanned int
	Partial bool
	Next    string // the older page's URL, "" on the last
	Prev    string // the newer page's URL, "" on the newest
	Newest  string // the first page of these filters
	Lookup  bool   // the list is the answer to an id search
	Problem string
	Notice  string
	// Version changes whenever a row does (not when only ages move on):
	// the script swaps the list only then, so a link being clicked or
	// focused is not replaced under the pointer every few seconds.
	Version string
	// Scoped: the session sees some workspaces only, so counts of every
	// pipeline (the states', the span's) are not shown.
	Scoped bool
	// Workspaces are those the filter offers (the session's); Paused
	// those of them that are paused, shown with why.
	Workspaces []string
	Paused     []tasks.WorkspaceStatus
}

type stateCount struct {
	State  tasks.State
	N      int64
	URL    string
	Active bool
}

// row is one pipeline as `enqueue list` shows it, and a little more.
type row struct {
	ID, Key   string
	State     tasks.State
	Step      tasks.Step
	Made      int
	Deleted   int
	PostStage string
	Created   time.Time
	Updated   time.Time
	Caption   string   // the start of the caption
	Profiles  []string // the post's profiles
	PublishAt *time.Time
	// Error is the last error, whole: the list shows it on a line of its
	// own under the row, cause included.
	Error      *tasks.StepError
	Cancelable bool
}

func newRow(r *tasks.Record) row {
	v := row{ID: r.ID, Key: r.Key, State: r.State, Step: r.Step, PostStage: r.PostStage, Created: r.CreatedAt,
		Updated: r.UpdatedAt, Error: r.LastError(), Cancelable: cancellable(r), PublishAt: r.PostPublishAt}
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
	if sp := r.Request.Post; sp != nil {
		v.Profiles = sp.ProfileIDs
		if v.PublishAt == nil {
			v.PublishAt = sp.PublishAt
		}
		caption := sp.Caption
		if caption == "" && len(sp.Captions) > 0 {
			caption = sp.Captions[0].Text
		}
		v.Caption = clip(strings.Join(strings.Fields(caption), " "), 60)
	}
	return v
}

// list is the pipelines, newest first, filtered; or the one an id names.
func (h *Handler) list(w http.ResponseWriter, r *http.Request, s session) {
	q := r.URL.Query()
	v := listView{States: tasks.States, Notice: listNotice(q)}
	f, problem := parseFilter(q)
	v.F = f
	v.Newest = f.url("", "")
	c, stop := pageCtx(r)
	defer stop()
	sc := s.scope()
	v.Scoped = sc != nil
	var counts map[tasks.State]int64
	if !v.Scoped {
		var err error
		if counts, err = h.client.CountStates(c); err != nil {
			h.internal(w, r, &s, "count the pipelines", err)
			return
		}
	}
	ws, err := h.workspaces(c, s)
	if err != nil {
		h.internal(w, r, &s, "list the workspaces", err)
		return
	}
	for _, st := range ws {
		v.Workspaces = append(v.Workspaces, st.Name)
		if st.Paused {
			v.Paused = append(v.Paused, st)
		}
	}
	for _, st := range tasks.States {
		only := filter{States: []tasks.State{st}}
		v.Counts = append(v.Counts, stateCount{State: st, N: counts[st], URL: only.url("", ""),
			Active: len(f.States) == 1 && f.States[0] == st})
		v.All += counts[st]
	}
	if problem != "" {
		v.Problem = problem
		h.renderList(w, r, s, http.StatusBadRequest, v)
		return
	}
	if f.Q != "" {
		if _, err := uuid.Parse(f.Q); err == nil {
			v.Lookup = true
			rec, err := h.lookup(c, s, f.Q)
			switch {
			case err != nil:
				h.internal(w, r, &s, "look the pipeline up", err)
				return
			case rec != nil && f.holds(rec):
				v.Rows = []row{newRow(rec)}
			}
			h.renderList(w, r, s, http.StatusOK, v)
			return
		}
	}
	o := f.options()
	if sc != nil {
		if f.Workspace != "" && !sc.Allows(f.Workspace) {
			// Another workspace's pipelines: none to show.
			h.renderList(w, r, s, http.StatusOK, v)
			return
		}
		if f.Workspace == "" {
			o.Workspaces = sc.Workspaces
		}
	}
	o.Limit = pageSize
	o.Cursor, o.Back = q.Get("cursor"), false
	if before := q.Get("before"); before != "" && o.Cursor == "" {
		o.Cursor, o.Back = before, true
	}
	pg, err := h.client.Search(c, o)
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
	v.Total, v.Counted, v.Scanned, v.Partial = pg.Total, !o.Filtered(), pg.Scanned, pg.Partial
	if v.Scoped {
		v.Total = 0
	}
	if len(v.Rows) > 0 {
		v.From, v.To = pg.Before+1, pg.Before+int64(len(v.Rows))
	}
	if pg.Next != "" {
		v.Next = f.url("cursor", pg.Next)
	}
	if pg.Prev != "" {
		v.Prev = f.url("before", pg.Prev)
	}
	h.renderList(w, r, s, http.StatusOK, v)
}

func (h *Handler) renderList(w http.ResponseWriter, r *http.Request, s session, status int, v listView) {
	refresh := false
	parts := []string{v.Problem, v.Next, v.Prev, v.Notice}
	for _, p := range v.Paused {
		parts = append(parts, p.Name, p.Why)
	}
	for _, c := range v.Counts {
		parts = append(parts, c.URL, time.Duration(c.N).String())
	}
	for _, rw := range v.Rows {
		refresh = refresh || !rw.State.Terminal()
		parts = append(parts, rw.ID, rw.Updated.Format(time.RFC3339Nano))
	}
	v.Version = version(parts...)
	h.renderPage(w, r, status, "list", &s, page{Title: "Pipelines", Nav: "list", Refresh: refresh, Live: true,
		Slow: v.F.Profile != "" || v.F.Label != "" || (v.F.Q != "" && !v.Lookup), Body: v})
}

// lookup finds the pipeline an id names; none (or another workspace's)
// is an empty answer.
func (h *Handler) lookup(c context.Context, s session, id string) (*tasks.Record, error) {
	rec, err := h.get(c, s, id)
	if tasks.IsNotFound(err) {
		return nil, nil
	}
	return rec, err
}

// listNotices are what a bulk action redirects with: fixed texts (the
// numbers are parsed), so the page never echoes text from the URL.
func listNotice(q url.Values) string {
	if q.Get("notice") != "bulk" {
		return ""
	}
	return bulkNotice(q)
}

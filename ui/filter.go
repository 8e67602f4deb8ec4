package ui

import (
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// filter is what the list's form selects: the query string and back.
type filter struct {
	States    []tasks.State
	Workspace string
	Profile   string
	Label     string
	Q         string // an id, or text in the key, captions or error
	From, To  string // dates, YYYY-MM-DD, of creation, both included (UTC)

	since, until time.Time
}

const dateLayout = "2006-01-02"

// parseFilter reads the filter of a list URL; what it refuses it says.
func parseFilter(q url.Values) (filter, string) {
	f := filter{Workspace: strings.TrimSpace(q.Get("workspace")), Profile: strings.TrimSpace(q.Get("profile")), Label: strings.TrimSpace(q.Get("label")),
		Q: strings.TrimSpace(q.Get("q")), From: strings.TrimSpace(q.Get("from")), To: strings.TrimSpace(q.Get("to"))}
	for _, s := range q["state"] {
		st := tasks.State(s)
		switch {
		case s == "":
		case !isState(st):
			return f, "There is no state \u201c" + s + "\u201d; pick one from the list."
		case !slices.Contains(f.States, st):
			f.States = append(f.States, st)
		}
	}
	var err error
	if f.From != "" {
		if f.since, err = time.Parse(dateLayout, f.From); err != nil {
			return f, "\u201cCreated from\u201d is not a date like 2026-12-31."
		}
	}
	if f.To != "" {
		if f.until, err = time.Parse(dateLayout, f.To); err != nil {
			return f, "\u201cCreated to\u201d is not a date like 2026-12-31."
		}
		f.until = f.until.AddDate(0, 0, 1)
	}
	return f, ""
}

// Selected says whether the form shows st as picked.
func (f filter) Selected(st tasks.State) bool { return slices.Contains(f.States, st) }

// Any says whether anything is filtered.
func (f filter) Any() bool {
	return len(f.States) > 0 || f.Workspace != "" || f.Profile != "" || f.Label != "" || f.Q != "" || f.From != "" || f.To != ""
}

func (f filter) options() tasks.SearchOptions {
	o := tasks.SearchOptions{States: f.States, Since: f.since, Until: f.until, Profile: f.Profile, Label: f.Label, Text: f.Q}
	if f.Workspace != "" {
		o.Workspaces = []string{f.Workspace}
	}
	return o
}

// holds says whether a record an id named passes the rest of the filter.
func (f filter) holds(r *tasks.Record) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, r.State) {
		return false
	}
	if (!f.since.IsZero() && r.CreatedAt.Before(f.since)) || (!f.until.IsZero() && !r.CreatedAt.Before(f.until)) {
		return false
	}
	o := f.options()
	o.Text = ""
	return o.Match(r)
}

// url is the list under this filter, with one paging parameter.
func (f filter) url(param, value string) string {
	q := url.Values{}
	for _, s := range f.States {
		q.Add("state", string(s))
	}
	for k, v := range map[string]string{"workspace": f.Workspace, "profile": f.Profile, "label": f.Label, "q": f.Q, "from": f.From, "to": f.To, param: value} {
		if k != "" && v != "" {
			q.Set(k, v)
		}
	}
	if len(q) == 0 {
		return Prefix
	}
	return Prefix + "?" + q.Encode()
}

func isState(s tasks.State) bool { return slices.Contains(tasks.States, s) }

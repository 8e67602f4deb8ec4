package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// pages are the parsed templates, one per page, each with the layout.
type pages struct{ byName map[string]*template.Template }

var pageNames = []string{"login", "list", "detail", "error", "confirm"}

var funcs = template.FuncMap{
	"asset": assetURL,
	"age":   age,
	"ts":    timestamp,
	"tsp": func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return timestamp(*t)
	},
	"inc":   func(i int) int { return i + 1 },
	"short": shortID,
	"dur":   duration,
	"join":  strings.Join,
}

// shortID is the start of a UUID: enough to tell a page's rows apart;
// the full id is in the link, its title and the copy button.
func shortID(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// duration is a gap between two events, in its largest unit or two.
func duration(d time.Duration) string {
	switch {
	case d < 0:
		d = 0
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return age(time.Time{}.Add(d), time.Time{})
}

func loadPages() (*pages, error) {
	layout, err := template.New("layout").Funcs(funcs).ParseFS(assets, "assets/templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("ui: parse layout: %w", err)
	}
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range pageNames {
		t, err := template.Must(layout.Clone()).ParseFS(assets, "assets/templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("ui: parse page %s: %w", name, err)
		}
		p.byName[name] = t
	}
	if _, err := fs.Stat(static, "app.js"); err != nil {
		return nil, fmt.Errorf("ui: static files missing: %w", err)
	}
	return p, nil
}

// page is what the layout reads; Body is the page's own data.
type page struct {
	Title string
	Nav   string
	// Session is set on pages of a logged-in person: the layout then shows
	// the logout form with its CSRF token.
	Session bool
	CSRF    string
	// Refresh asks the script to reload the page's live part while
	// something on it still runs.
	Refresh bool
	// RefreshMS is the period, set from the handler's.
	RefreshMS int64
	// Live: the page has a live part, so the auto-refresh toggle shows.
	Live bool
	Now  time.Time
	Body any
}

func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, s *session, body any) {
	h.renderPage(w, r, status, name, s, page{Title: titles[name], Nav: name, Body: body})
}

var titles = map[string]string{"login": "Log in", "list": "Pipelines", "detail": "Pipeline", "error": "Error", "confirm": "Confirm"}

func (h *Handler) renderPage(w http.ResponseWriter, r *http.Request, status int, name string, s *session, p page) {
	if s != nil {
		p.Session, p.CSRF = true, s.csrf()
	}
	p.Now = h.now()
	p.RefreshMS = h.every.Milliseconds()
	var buf bytes.Buffer
	if err := h.pages.byName[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		h.log.Error().Err(err).Str("page", name).Msg("ui: render page")
		http.Error(w, "the page could not be rendered; see the worker's log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

type errorView struct {
	Status  int
	Text    string
	Message string
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	h.renderPage(w, r, status, "error", s, page{Title: http.StatusText(status),
		Body: errorView{Status: status, Text: http.StatusText(status), Message: msg}})
}

// internal logs what failed and shows only that it did.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, s *session, what string, err error) {
	h.log.Error().Err(err).Str("route", r.Pattern).Msg("ui: " + what)
	h.fail(w, r, s, http.StatusInternalServerError, "Could not "+what+"; the worker's log says why. Try again in a moment.")
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// age is how long ago t was, in its largest unit or two: what a person
// scanning a list compares.
func age(now, t time.Time) string {
	d := now.Sub(t)
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// version is a short digest of what a live part shows.
func version(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s|", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// clip shortens a message for a table cell; the detail page has it whole.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

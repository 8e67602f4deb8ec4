package ui

import (
	"net/http"
	"net/url"
	"strings"
)

type loginView struct {
	Next    string
	Failed  bool
	Expired bool
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := h.session(r); err == nil {
		http.Redirect(w, r, localNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", nil, loginView{Next: localNext(r.URL.Query().Get("next"))})
}

// loginSubmit opens a session for one of API_TOKENS. A wrong token is a
// plain 401 with the form again: nothing says how close it was.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !crossSiteAllowed(r) {
		h.fail(w, r, nil, http.StatusForbidden, "This login form did not come from this site.")
		return
	}
	next := localNext(r.PostFormValue("next"))
	k := login(h.keys, strings.TrimSpace(r.PostFormValue("token")))
	if k == nil {
		h.log.Warn().Str("remote", r.RemoteAddr).Msg("ui: login refused: the token is not one of API_TOKENS")
		h.render(w, r, http.StatusUnauthorized, "login", nil, loginView{Next: next, Failed: true})
		return
	}
	if err := h.setCookie(w, r, k); err != nil {
		h.internal(w, r, nil, "log in", err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request, _ session) {
	h.clearCookie(w, r)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// localNext keeps a post-login redirect on these pages: anything else (an
// absolute URL, "//host", a backslash trick) goes to the list.
func localNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil ||
		!strings.HasPrefix(next, Prefix) || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") ||
		strings.HasPrefix(u.Path, Prefix+"login") {
		return Prefix
	}
	return next
}

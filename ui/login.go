package ui

import (
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/mediaflow/mediaflow/metrics"
)

type loginView struct {
	Next    string
	Failed  bool
	Expired bool
	// RetryAfter, when set, is why the login was refused: the address
	// failed too often lately (seconds until it may try again).
	RetryAfter int
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, err := h.session(r); err == nil {
		http.Redirect(w, r, localNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.render(w, r, http.StatusOK, "login", nil, loginView{Next: localNext(r.URL.Query().Get("next"))})
}

// loginSubmit opens a session for one of API_TOKENS. A wrong token is a
// plain 401 with the form again: nothing says how close it was. An address
// that failed too often (the guard, shared with the API) is refused with a
// 429 whatever the token, so a right guess looks like a wrong one.
func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if !crossSiteAllowed(r) {
		h.fail(w, r, nil, http.StatusForbidden, "This login form did not come from this site.")
		return
	}
	next := localNext(r.PostFormValue("next"))
	k := login(*h.keys.Load(), strings.TrimSpace(r.PostFormValue("token")))
	var (
		wait      int
		throttled bool
	)
	if k == nil {
		wait, throttled = h.guard.Failed(r, metrics.AuthSurfaceUI)
	} else {
		wait, throttled = h.guard.Throttled(r, metrics.AuthSurfaceUI)
	}
	if k == nil || throttled {
		// The guard summarizes refused logins; a line each would let a
		// flood of them fill the log.
		quiet(r)
		if throttled {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			h.render(w, r, http.StatusTooManyRequests, "login", nil, loginView{Next: next, RetryAfter: wait})
			return
		}
		h.render(w, r, http.StatusUnauthorized, "login", nil, loginView{Next: next, Failed: true})
		return
	}
	if err := h.setCookie(w, r, k); err != nil {
		h.internal(w, r, nil, "log in", err)
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session for good: the cookie is cleared in the browser
// and the session is listed as ended in Redis for the time it had left,
// so a copy of the cookie taken before is refused too.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, s session) {
	ctx, cancel := pageCtx(r)
	defer cancel()
	if err := h.sessions.Revoke(ctx, s.id(), s.expires.Sub(h.now())+clockSkew); err != nil {
		h.internal(w, r, &s, "log out", err)
		return
	}
	h.clearCookie(w, r)
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

// localNext keeps a post-login redirect on these pages: anything else (an
// absolute URL, "//host", a backslash trick, dot segments that climb out
// of Prefix) goes to the list. The path is judged as the browser will
// resolve it, dot segments removed, and sent in that form.
func localNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || next == "" || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(next, Prefix) || strings.ContainsAny(next, "\\\r\n") || strings.HasPrefix(next, "//") {
		return Prefix
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && clean != "/" {
		clean += "/"
	}
	if !strings.HasPrefix(clean, Prefix) || strings.HasPrefix(clean, Prefix+"login") {
		return Prefix
	}
	u.Path, u.RawPath = clean, ""
	return u.String()
}

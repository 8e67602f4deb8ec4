package ui

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
)

// Prefix is where the pages are served; a server mounts the Handler there.
const Prefix = "/ui/"

// DefaultSessionTTL is how long a login lasts when Config.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// cookieName is the session cookie.
const cookieName = "mediaflow_ui"

// Config configures a Handler. Only Tokens is required.
type Config struct {
	// Tokens are the API's bearer tokens (API_TOKENS); any one of them
	// logs in, and removing one ends the sessions opened with it.
	Tokens []string
	// FileTokens are the workspaces file's tokens: one logs in too, and
	// its pages show its workspaces' pipelines only (scope.go).
	// SetFileTokens replaces them on a reload.
	FileTokens []workspaces.Token
	// SessionTTL is how long a login lasts; 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// Logger receives one line per request and what went wrong.
	Logger zerolog.Logger
	// RefreshEvery is how often a page with something running refetches
	// its live part; 0 means DefaultRefresh.
	RefreshEvery time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Redis keeps the sessions ended at logout, so a copy of a cookie
	// taken before it is refused too. Required.
	Redis redis.UniversalClient
	// Guard counts failed logins per client address, with the API's
	// failed authentications (share one), and holds back clients that
	// fail too often. Nil summarizes failures in Logger and holds no one
	// back.
	Guard *authlimit.Guard
	// TraceURL, when set (TRACE_URL_TEMPLATE, checked by CheckTraceURL),
	// links a pipeline's page to its trace: {traceId} stands for the id.
	TraceURL string
}

// clockSkew is how much longer than its cookie an ended session stays
// listed: workers whose clocks run behind must refuse it too.
const clockSkew = 5 * time.Minute

// DefaultRefresh is Config.RefreshEvery's default.
const DefaultRefresh = 2 * time.Second

// Handler serves the pipelines pages under Prefix.
type Handler struct {
	client   *tasks.Client
	sessions *rdb.Sessions
	guard    *authlimit.Guard
	// keys are API_TOKENS' then the file tokens'; apiKeys and secret
	// rebuild them when the file is reloaded.
	keys     atomic.Pointer[[]sessionKey]
	apiKeys  []sessionKey
	secret   []byte
	ttl      time.Duration
	every    time.Duration
	log      zerolog.Logger
	now      func() time.Time
	pages    *pages
	traceURL string
	root     http.Handler
}

// New builds the pages over client. Tokens are checked by the API
// (api.Config.Check) before it is built; here only their presence is.
func New(client *tasks.Client, cfg Config) (*Handler, error) {
	if client == nil {
		return nil, errors.New("ui: a tasks.Client is required")
	}
	var tokens []string
	for _, t := range cfg.Tokens {
		if t != "" {
			tokens = append(tokens, t)
		}
	}
	if len(tokens) == 0 && len(cfg.FileTokens) == 0 {
		return nil, errors.New("ui: no token configured (API_TOKENS): refusing to serve pages anyone could open")
	}
	if cfg.Redis == nil {
		return nil, errors.New("ui: a Redis client is required (it lists the sessions ended at logout)")
	}
	if cfg.Guard == nil {
		g, err := authlimit.New(nil, authlimit.Config{Logger: cfg.Logger})
		if err != nil {
			return nil, err
		}
		cfg.Guard = g
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = DefaultSessionTTL
	}
	if cfg.RefreshEvery <= 0 {
		cfg.RefreshEvery = DefaultRefresh
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := CheckTraceURL(cfg.TraceURL); err != nil {
		return nil, fmt.Errorf("ui: trace URL: %w", err)
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	sessions := rdb.NewSessions(cfg.Redis)
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("ui: session secret: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	secret, err := sessions.SessionSecret(ctx, fresh)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("ui: %w", err)
	}
	h := &Handler{client: client, sessions: sessions, guard: cfg.Guard, apiKeys: newSessionKeys(tokens), secret: secret,
		ttl: cfg.SessionTTL, every: cfg.RefreshEvery, log: cfg.Logger, now: cfg.Now, pages: p, traceURL: cfg.TraceURL}
	h.SetFileTokens(cfg.FileTokens)
	h.root = h.logged(secured(h.routes()))
	return h, nil
}

// SetFileTokens replaces the workspaces file's tokens (a reload): the
// sessions of a token that stays go on, those of one removed end.
func (h *Handler) SetFileTokens(file []workspaces.Token) {
	keys := append(slices.Clone(h.apiKeys), newFileSessionKeys(file, h.secret)...)
	h.keys.Store(&keys)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.root.ServeHTTP(w, r) }

func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+Prefix+"static/{file}", serveStatic)
	mux.HandleFunc("GET "+Prefix+"login", h.loginForm)
	mux.HandleFunc("POST "+Prefix+"login", h.loginSubmit)
	mux.Handle("POST "+Prefix+"logout", h.signedIn(h.logout))
	mux.Handle("GET "+Prefix+"{$}", h.signedIn(h.list))
	mux.Handle("GET "+Prefix+"pipelines/{id}", h.signedIn(h.detail))
	mux.Handle("GET "+Prefix+"pipelines/{id}/cancel", h.signedIn(h.confirmCancel))
	mux.Handle("POST "+Prefix+"pipelines/{id}/cancel", h.signedIn(h.cancel))
	mux.Handle("GET "+Prefix+"pipelines/{id}/redeliver", h.signedIn(h.confirmRedeliver))
	mux.Handle("POST "+Prefix+"pipelines/{id}/redeliver", h.signedIn(h.redeliver))
	mux.Handle("GET "+Prefix+"pipelines/{id}/replay", h.signedIn(h.confirmReplay))
	mux.Handle("POST "+Prefix+"pipelines/{id}/replay", h.signedIn(h.replay))
	mux.Handle("POST "+Prefix+"bulk", h.signedIn(h.bulk))
	mux.Handle(Prefix, h.signedIn(func(w http.ResponseWriter, r *http.Request, s session) {
		h.fail(w, r, &s, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	}))
	return mux
}

// sessionHandler is a page that needs a login.
type sessionHandler func(http.ResponseWriter, *http.Request, session)

// signedIn sends a request without a valid session to the login form (a
// GET comes back to where it was going) and refuses a POST whose CSRF
// token is not its session's.
func (h *Handler) signedIn(next sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.session(r)
		var unsure *sessionCheckError
		if errors.As(err, &unsure) {
			h.internal(w, r, nil, "check the session", err)
			return
		}
		if err != nil {
			if !errors.Is(err, http.ErrNoCookie) {
				// A stale cookie is dropped, so the browser stops sending it.
				h.clearCookie(w, r)
			}
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			h.fail(w, r, nil, http.StatusUnauthorized, "Your session has ended; log in again.")
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if !crossSiteAllowed(r) || !s.checkCSRF(r.PostFormValue("csrf")) {
				h.fail(w, r, &s, http.StatusForbidden, "This form is out of date or did not come from this page; reload the page and try again.")
				return
			}
		}
		next(w, r, s)
	})
}

// maxFormBytes bounds a form body: the largest one holds a page's
// selected ids, or an edited caption.
const maxFormBytes = 64 << 10

// crossSiteAllowed refuses a form another site made the browser send.
// SameSite=Strict already keeps the cookie off such a request and the CSRF
// token already fails; the browser's own word also covers the login form,
// which has no session yet (login CSRF: logging a person in as someone
// else). Sec-Fetch-Site says it; browsers that predate it still send
// Origin on a form POST, which must then be this host. A request with
// neither is not a browser's cross-site form (curl, scripts), and passes.
func crossSiteAllowed(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "same-origin", "none":
		return true
	case "":
	default:
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	// "null" (a sandboxed frame, a redirect from elsewhere) has no host.
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host) &&
		(u.Scheme == "https" || u.Scheme == "http")
}

// session is the request's verified session, unless it ended at logout.
// When Redis cannot say whether it did, the error is a
// *sessionCheckError: the session is neither good nor bad.
func (h *Handler) session(r *http.Request) (session, error) {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, err
	}
	s, err := verifySession(*h.keys.Load(), c.Value, h.now())
	if err != nil {
		return session{}, err
	}
	ctx, cancel := pageCtx(r)
	defer cancel()
	ended, err := h.sessions.Revoked(ctx, s.id())
	switch {
	case err != nil:
		return session{}, &sessionCheckError{err}
	case ended:
		return session{}, errSessionEnded
	}
	return s, nil
}

// sessionCheckError: whether the session ended could not be found out.
type sessionCheckError struct{ err error }

func (e *sessionCheckError) Error() string { return "ui: check the session: " + e.err.Error() }
func (e *sessionCheckError) Unwrap() error { return e.err }

// secure reports whether the browser reached us over TLS, directly or
// through a proxy that says so: only then may the cookie demand it.
func secure(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, k *sessionKey) error {
	nonce := make([]byte, 18)
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("ui: session nonce: %w", err)
	}
	value, _ := k.open(h.now(), h.ttl, nonce)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: value, Path: Prefix,
		MaxAge: int(h.ttl / time.Second), HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
	return nil
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: "", Path: Prefix,
		MaxAge: -1, HttpOnly: true, Secure: secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// ctx bounds a page's reads: a page that waits longer than this on Redis
// is better answered with an error the person can retry.
func pageCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), 10*time.Second)
}

package api

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
)

// DefaultMaxBody is the largest request body accepted when Config.MaxBody
// is 0 (API_MAX_BODY's default).
const DefaultMaxBody = 1 << 20

// DefaultBodyTimeout is how long a request body may take to arrive.
const DefaultBodyTimeout = 30 * time.Second

// Config configures a Handler. Only Tokens is required.
type Config struct {
	// Tokens are the bearer tokens accepted (API_TOKENS); several allow a
	// rotation: add the new one, move clients over, drop the old one.
	Tokens []string
	// FileTokens are the workspaces file's tokens, known by their
	// SHA-256, each scoped to its workspaces: one sees, lists and acts on
	// its workspaces' pipelines only, and another workspace's answers 404
	// (scope.go). SetFileTokens replaces them on a reload.
	FileTokens []workspaces.Token
	// MaxBody caps a request body in bytes; 0 means DefaultMaxBody.
	MaxBody int64
	// RateLimit is the requests per second allowed per token; 0 is
	// unlimited.
	RateLimit rate.Limit
	// Burst is how many requests a token may make at once; 0 means one
	// second's worth of RateLimit (at least 1).
	Burst int
	// Logger receives one access-log line per request.
	Logger zerolog.Logger
	// Guard counts failed authentications per client and holds back
	// clients that fail too often; share one with the pages (ui.Config).
	// Nil summarizes failures in Logger and holds no one back.
	Guard *authlimit.Guard
	// Metrics, when set, counts and times every request by route
	// (metrics.Metrics is one). TracerProvider and Propagator serve the
	// request spans and read the caller's traceparent; nil means the otel
	// globals. See observed.
	Metrics        Observer
	TracerProvider trace.TracerProvider
	Propagator     propagation.TextMapPropagator
}

// Handler serves the API over a tasks.Client.
type Handler struct {
	client *tasks.Client
	keys   atomic.Pointer[keyring]
	// rate and burst make the limiters of a reloaded keyring's new tokens.
	rate    rate.Limit
	burst   int
	tokens  []string
	maxBody int64
	// bodyTimeout bounds reading a request body.
	bodyTimeout time.Duration
	log         zerolog.Logger
	guard       *authlimit.Guard
	root        http.Handler
}

// ErrNoToken is New's refusal to build an API that anyone could use.
var ErrNoToken = errors.New("no bearer token configured (API_TOKENS): refusing to serve an open API")

// New builds the API. It refuses to build one without a token, so a
// missing setting can never open the queue to the network.
func New(client *tasks.Client, cfg Config) (*Handler, error) {
	if client == nil {
		return nil, errors.New("api: a tasks.Client is required")
	}
	tokens, err := cfg.check()
	if err != nil {
		return nil, err
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = DefaultMaxBody
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(float64(cfg.RateLimit))))
	}
	if cfg.Guard == nil {
		if cfg.Guard, err = authlimit.New(nil, authlimit.Config{Logger: cfg.Logger}); err != nil {
			return nil, err
		}
	}
	h := &Handler{
		client:      client,
		rate:        cfg.RateLimit,
		burst:       cfg.Burst,
		tokens:      tokens,
		maxBody:     cfg.MaxBody,
		bodyTimeout: DefaultBodyTimeout,
		log:         cfg.Logger,
		guard:       cfg.Guard,
	}
	h.keys.Store(newKeyring(tokens, cfg.FileTokens, cfg.RateLimit, cfg.Burst))
	mux := h.routes()
	h.root = h.observed(mux, h.logged(mux), cfg)
	return h, nil
}

// SetFileTokens replaces the workspaces file's tokens (a reload). Each
// token that stays keeps its rate limiter; a request already past
// authentication keeps the scope it had.
func (h *Handler) SetFileTokens(file []workspaces.Token) {
	k := newKeyring(h.tokens, file, h.rate, h.burst)
	k.keep(h.keys.Load())
	h.keys.Store(k)
}

// Check reports what New would refuse in cfg, so a program can fail at
// startup, before it connects to anything.
func (cfg Config) Check() error {
	_, err := cfg.check()
	return err
}

func (cfg Config) check() (tokens []string, err error) {
	for i, t := range cfg.Tokens {
		switch {
		case t == "":
			continue
		case strings.ContainsAny(t, " \t\r\n"):
			return nil, fmt.Errorf("api: token %d of API_TOKENS contains white space", i+1)
		case len(t) < MinTokenLength:
			return nil, fmt.Errorf("api: token %d of API_TOKENS is %d characters; want at least %d (say, openssl rand -hex 32)", i+1, len(t), MinTokenLength)
		}
		tokens = append(tokens, t)
	}
	if len(tokens) == 0 && len(cfg.FileTokens) == 0 {
		return nil, fmt.Errorf("api: %w", ErrNoToken)
	}
	if cfg.MaxBody < 0 {
		return nil, fmt.Errorf("api: body limit %d: want 0 (default) or more", cfg.MaxBody)
	}
	if cfg.RateLimit < 0 || math.IsNaN(float64(cfg.RateLimit)) {
		return nil, fmt.Errorf("api: rate limit %v: want 0 (unlimited) or more", cfg.RateLimit)
	}
	return tokens, nil
}

// route is one method on one path.
type route struct {
	method, pattern string
	public          bool
	handle          http.HandlerFunc
}

func (h *Handler) table() []route {
	return []route{
		{http.MethodPost, "/v1/pipelines", false, h.publish},
		{http.MethodPost, "/v1/pipelines/validate", false, h.validate},
		{http.MethodGet, "/v1/pipelines", false, h.list},
		{http.MethodGet, "/v1/pipelines/{id}", false, h.get},
		{http.MethodPost, "/v1/pipelines/{id}/cancel", false, h.cancel},
		{http.MethodPost, "/v1/pipelines/{id}/webhook/redeliver", false, h.redeliver},
		{http.MethodPatch, "/v1/pipelines/{id}", false, h.edit},
		{http.MethodPost, "/v1/pipelines/{id}/replay", false, h.replay},
		{http.MethodPost, "/v1/pipelines/bulk", false, h.bulk},
		{http.MethodGet, "/v1/operations/{id}", false, h.operation},
		{http.MethodGet, "/v1/workspaces", false, h.listWorkspaces},
		{http.MethodPost, "/v1/workspaces/{name}/pause", false, h.pauseWorkspace},
		{http.MethodPost, "/v1/workspaces/{name}/resume", false, h.resumeWorkspace},
		{http.MethodGet, "/v1/openapi.yaml", true, serveSpec},
	}
}

// routes registers each route, a 405 (with Allow) for the other methods on
// its path, and a 404 for every other path, all as problem details rather
// than net/http's plain-text answers.
func (h *Handler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	public := map[string]bool{}
	var paths []string
	for _, rt := range h.table() {
		var next http.Handler = rt.handle
		if !rt.public {
			next = h.authenticated(next)
		}
		mux.Handle(rt.method+" "+rt.pattern, next)
		if _, seen := allowed[rt.pattern]; !seen {
			paths = append(paths, rt.pattern)
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
		public[rt.pattern] = public[rt.pattern] || rt.public
	}
	for _, p := range paths {
		methods := allowed[p]
		if slices.Contains(methods, http.MethodGet) {
			methods = append(methods, http.MethodHead)
		}
		var next http.Handler = methodNotAllowed(strings.Join(methods, ", "))
		if !public[p] {
			next = h.authenticated(next)
		}
		if !shadowed(p, paths) {
			mux.Handle(p, next)
			continue
		}
		// A path another one's wildcard also matches (/v1/pipelines/validate
		// under /v1/pipelines/{id}): a pattern of every method on it would
		// conflict with that path's methods, so each other method is named.
		for _, m := range otherMethods {
			if !slices.Contains(methods, m) {
				mux.Handle(m+" "+p, next)
			}
		}
	}
	mux.Handle("/", h.authenticated(http.HandlerFunc(notFound)))
	return mux
}

// ServeHTTP serves the API and writes the access log.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.startBodyDeadline(w, r)
	h.root.ServeHTTP(w, r)
}

// otherMethods are the methods a shadowed path answers 405 to by name.
var otherMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
	http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace}

// shadowed reports whether another of paths has a wildcard segment where
// p has a literal one, and matches p.
func shadowed(p string, paths []string) bool {
	ps := strings.Split(p, "/")
	for _, q := range paths {
		qs := strings.Split(q, "/")
		if q == p || len(qs) != len(ps) {
			continue
		}
		match := true
		for i := range qs {
			if qs[i] != ps[i] && !strings.HasPrefix(qs[i], "{") {
				match = false
				break
			}
		}
		if match {
			return true
		}
	}
	return false
}

func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeProblem(w, r, Problem{Type: typeMethod, Status: http.StatusMethodNotAllowed,
			Detail: fmt.Sprintf("%s is not served on %s; allowed: %s", r.Method, r.URL.Path, allow)})
	}
}

func notFound(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, Problem{Type: typeNotFound, Status: http.StatusNotFound,
		Detail: "no route " + r.URL.Path + "; see /v1/openapi.yaml"})
}

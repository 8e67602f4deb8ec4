package main

import (
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/api"
	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/ui"
	"github.com/mediaflow/mediaflow/workspaces"
)

// apiConfig is the enqueue API's part of the configuration.
func (c *config) apiConfig(log zerolog.Logger) api.Config {
	var tokens []string
	for _, t := range strings.Split(c.APITokens, ",") {
		if t = strings.TrimSpace(t); t != "" {
			tokens = append(tokens, t)
		}
	}
	var fileTokens []workspaces.Token
	if c.Workspaces != nil {
		fileTokens = c.Workspaces.Tokens
	}
	return api.Config{
		Tokens:     tokens,
		FileTokens: fileTokens,
		MaxBody:    c.APIMaxBody,
		RateLimit:  rate.Limit(c.APIRateLimit),
		Logger:     log,
	}
}

// checkAPI refuses, before anything connects, an API that would be open to
// anyone or that -api-only would leave with nothing to serve.
func (c *config) checkAPI() error {
	if c.APIOnly && c.Demo {
		return errors.New("-demo runs the whole lifecycle; it cannot be -api-only")
	}
	if c.APIOnly && c.APIAddr == "" {
		return errors.New("-api-only serves the enqueue API, but API_ADDR is empty: set API_ADDR (like :8080)")
	}
	if c.APIAddr == "" {
		return nil
	}
	err := c.apiConfig(zerolog.Nop()).Check()
	if errors.Is(err, api.ErrNoToken) {
		return errors.New("API_ADDR is set but API_TOKENS is empty: the enqueue API never starts without a token " +
			"(set API_TOKENS to one or more comma-separated tokens, give the workspaces file tokens, or unset API_ADDR)")
	}
	return err
}

// startAPI serves the enqueue API on API_ADDR, over the same tasks.Client
// the worker uses (so sources are checked the way the worker opens them),
// and the pipelines page under /ui/ beside it, on l. Both count failed
// authentications through one guard, shared with every worker on rc.
// setTokens replaces the workspaces file's tokens (a reload).
func startAPI(c *config, l net.Listener, client *tasks.Client, rc redis.UniversalClient, m *metrics.Metrics, log zerolog.Logger) (srv *http.Server, setTokens func([]workspaces.Token), err error) {
	trusted, err := authlimit.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return nil, nil, err
	}
	guard, err := authlimit.New(rc, authlimit.Config{PerMinute: c.AuthFailureLimit, TrustedProxies: trusted,
		Logger: log.With().Str("component", "auth").Logger(), Metrics: m})
	if err != nil {
		return nil, nil, err
	}
	apiCfg := c.apiConfig(log.With().Str("component", "api").Logger())
	apiCfg.Guard = guard
	apiCfg.Metrics = m
	if tr := c.tracing; tr != nil {
		apiCfg.TracerProvider, apiCfg.Propagator = tr.TracerProvider(), tr.Propagator()
	}
	h, err := api.New(client, apiCfg)
	if err != nil {
		return nil, nil, err
	}
	pages, err := ui.New(client, ui.Config{Tokens: apiCfg.Tokens, FileTokens: apiCfg.FileTokens, Logger: log.With().Str("component", "ui").Logger(),
		Redis: rc, Guard: guard, TraceURL: c.TraceURLTemplate})
	if err != nil {
		return nil, nil, err
	}
	// The page's session cookie is scoped to /ui/, and the API never reads
	// cookies: the JSON API stays bearer-only.
	mux := http.NewServeMux()
	mux.Handle(ui.Prefix, pages)
	mux.Handle("/", h)
	srv, _ = serve(l, mux, c.APIMaxConns, log)
	// The last summary of refused attempts is written as the API stops.
	srv.RegisterOnShutdown(guard.Close)
	return srv, func(t []workspaces.Token) { h.SetFileTokens(t); pages.SetFileTokens(t) }, nil
}

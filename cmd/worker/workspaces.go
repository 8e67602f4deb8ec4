package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/budget"
	buildinfo "github.com/mediaflow/mediaflow/internal/version"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/workspaces"
)

// connectSwonkie builds a Swonkie client per workspace, each with its own
// fleet-wide budget: on the real API, or on an in-process sandbox it
// starts for -sandbox and -demo (one sandbox workspace per workspace of
// the file, or one with the sandbox's own credentials).
func (st *stack) connectSwonkie(cfg *config, m *metrics.Metrics, log zerolog.Logger) error {
	ws := cfg.Workspaces
	if cfg.Sandbox || cfg.Demo {
		if ws == nil {
			ws = workspaces.Single(sandboxID, sandboxKey, workspaces.Defaults{RateLimit: cfg.SwonkieRateLimit, RateBurst: cfg.SwonkieRateBurst})
		}
		var opts []sandbox.Options
		for i, w := range ws.Workspaces {
			o := sandboxOptions(cfg.Demo)
			o.APIID, o.APIKey, o.Seed = w.APIID, w.APIKey, o.Seed+int64(i)
			opts = append(opts, o)
		}
		sbs, srv, base, err := startSandboxes(opts, log)
		if err != nil {
			return err
		}
		st.sandboxes, st.sandbox, st.sandboxSrv = sbs, sbs.Servers()[0], srv
		sandboxed := *ws
		sandboxed.Workspaces = append([]workspaces.Workspace(nil), ws.Workspaces...)
		for i := range sandboxed.Workspaces {
			sandboxed.Workspaces[i].BaseURL = base
		}
		ws = &sandboxed
	}
	if ws == nil {
		return fmt.Errorf("no Swonkie workspace: set SWONKIE_API_ID and SWONKIE_API_KEY, or WORKSPACES_FILE")
	}
	st.apis = map[string]*swonkie.Client{}
	for _, w := range ws.Workspaces {
		api, err := st.workspaceClient(cfg, w, m, log)
		if err != nil {
			return fmt.Errorf("workspace %q: %w", w.Name, err)
		}
		st.apis[w.Name] = api
		if st.api == nil {
			st.api = api
		}
	}
	return nil
}

// workspaceClient is one workspace's client, paced by its own budget
// (per API id, shared by the fleet through Redis).
func (st *stack) workspaceClient(cfg *config, w workspaces.Workspace, m *metrics.Metrics, log zerolog.Logger) (*swonkie.Client, error) {
	apiCfg := swonkie.Config{
		BaseURL:   w.BaseURL,
		APIID:     w.APIID,
		APIKey:    w.APIKey,
		UserAgent: "mediaflow/" + buildinfo.Number(),
		RateLimit: rate.Limit(w.RateLimit),
		Burst:     w.RateBurst,

		UploadResponseTimeout: cfg.UploadTimeout,
		AllowedUploadHosts:    splitHosts(cfg.AllowedUploadHosts),
		TracerProvider:        cfg.tracerProvider(),
	}
	if st.redis != nil {
		b := budget.NewFleet(st.redis, w.APIID, w.RateLimit, w.RateBurst, m, log.With().Str("workspace", w.Name).Logger()).Named(w.Name)
		st.budgets = append(st.budgets, b)
		apiCfg.Budget = b
	}
	apiCfg.MaxConns = cfg.Concurrency
	if m != nil {
		apiCfg.Instrument = m.InstrumentWorkspace(w.Name)
	}
	return swonkie.New(apiCfg)
}

// startSandboxes serves one sandbox workspace per Options on one local
// address, as the real API serves every workspace from one.
func startSandboxes(opts []sandbox.Options, log zerolog.Logger) (*sandbox.Workspaces, *http.Server, string, error) {
	sbs, err := sandbox.NewWorkspaces(opts...)
	if err != nil {
		return nil, nil, "", fmt.Errorf("sandbox: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, "", fmt.Errorf("sandbox: %w", err)
	}
	srv := &http.Server{Handler: sbs, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }()
	base := "http://" + l.Addr().String() + "/v2"
	log.Info().Str("url", base).Int("workspaces", len(opts)).Msg("in-process Swonkie sandbox started")
	return sbs, srv, base, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"syscall"
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

// reloader reloads the workspaces file on SIGHUP: new keys, new
// workspaces, changed limits. A workspace whose entry did not change
// keeps its client (and its budget); one that changed gets a new client,
// and runs already going finish on the one they started with. A
// workspace removed from the file is no longer served: its pipelines
// wait. A file that does not load is logged and changes nothing.
type reloader struct {
	cfg    *config
	st     *stack
	m      *metrics.Metrics
	log    zerolog.Logger
	getenv func(string) string
	// entries are the workspaces as last loaded, by name, to tell which
	// changed.
	entries map[string]workspaces.Workspace
	// tokens receive the file's reloaded tokens (the API, the pages).
	tokens []func([]workspaces.Token)
}

func newReloader(cfg *config, st *stack, m *metrics.Metrics, getenv func(string) string, log zerolog.Logger) *reloader {
	r := &reloader{cfg: cfg, st: st, m: m, getenv: getenv, log: log.With().Str("component", "workspaces").Logger(),
		entries: map[string]workspaces.Workspace{}}
	if cfg.Workspaces != nil {
		for _, w := range cfg.Workspaces.Workspaces {
			if st.sandboxes != nil {
				w.BaseURL = st.api.BaseURL()
			}
			r.entries[w.Name] = w
		}
	}
	return r
}

// reload reads the file again and applies it; the error says why nothing
// changed.
func (r *reloader) reload(ctx context.Context) error {
	if r.cfg.WorkspacesFile == "" {
		return errors.New("no workspaces file to reload (WORKSPACES_FILE is unset)")
	}
	d := workspaces.Defaults{BaseURL: r.cfg.SwonkieBaseURL, RateLimit: r.cfg.SwonkieRateLimit, RateBurst: r.cfg.SwonkieRateBurst}
	ws, err := workspaces.Load(r.cfg.WorkspacesFile, r.getenv, d)
	if err != nil {
		return err
	}
	if r.st.worker != nil {
		if err := r.applyWorkspaces(ctx, ws); err != nil {
			return err
		}
	}
	for _, set := range r.tokens {
		set(ws.Tokens)
	}
	r.cfg.Workspaces = ws
	return nil
}

func (r *reloader) applyWorkspaces(ctx context.Context, ws *workspaces.Config) error {
	apis := map[string]*swonkie.Client{}
	entries := map[string]workspaces.Workspace{}
	var added, changed []string
	for _, w := range ws.Workspaces {
		if r.st.sandboxes != nil {
			// The in-process sandbox stands in for every workspace.
			w.BaseURL = r.st.api.BaseURL()
		}
		entries[w.Name] = w
		old, known := r.entries[w.Name]
		// maxActive is the worker's (SetMaxActive), not the client's.
		old.MaxActive = w.MaxActive
		if api, ok := r.st.apis[w.Name]; ok && old == w {
			apis[w.Name] = api
			continue
		}
		api, err := r.st.workspaceClient(r.cfg, w, r.m, r.log)
		if err != nil {
			return fmt.Errorf("workspace %q: %w", w.Name, err)
		}
		apis[w.Name] = api
		if known {
			changed = append(changed, w.Name)
		} else {
			added = append(added, w.Name)
		}
	}
	var removed []string
	for name := range r.entries {
		if _, ok := entries[name]; !ok {
			removed = append(removed, name)
		}
	}
	r.st.worker.SetMaxActive(maxActiveOf(ws))
	if err := r.st.worker.SetWorkspaces(ctx, apis); err != nil {
		return err
	}
	r.st.worker.SetMaxActive(maxActiveOf(ws))
	r.st.apis, r.entries = apis, entries
	slices.Sort(removed)
	r.log.Info().Strs("added", added).Strs("changed", changed).Strs("removed", removed).Int("workspaces", len(apis)).
		Msg("workspaces file reloaded")
	return nil
}

// watchReloads reloads on every SIGHUP until ctx ends.
func (r *reloader) watchReloads(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				if err := r.reload(rctx); err != nil {
					r.log.Error().Err(err).Msg("workspaces file not reloaded; the workspaces stay as they were")
				}
				cancel()
			}
		}
	}()
}

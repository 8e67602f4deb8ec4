package tasks

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/swonkie"
)

// A fleet may publish for several Swonkie workspaces (the workspaces
// file). Every pipeline belongs to one, named in its request and its
// record; the workers route each pipeline's calls through that
// workspace's client, with its own credentials and its own budget.

// DefaultWorkspace is the workspace of a fleet configured without a
// workspaces file (SWONKIE_API_ID and SWONKIE_API_KEY), and of records
// written before workspaces existed.
const DefaultWorkspace = "default"

// workspaceOf is the workspace a record publishes in.
func workspaceOf(r *Record) string {
	switch {
	case r.Workspace != "":
		return r.Workspace
	case r.Request.Workspace != "":
		return r.Request.Workspace
	}
	return DefaultWorkspace
}

// WorkspaceOf is the workspace a record publishes in: its own, or
// DefaultWorkspace for a record from before workspaces.
func WorkspaceOf(r *Record) string { return workspaceOf(r) }

// workspaceNames are the workspaces the fleet serves, as its workers
// recorded them in Redis, read at most once a namesFresh per client so
// that publishing stays one write.
type workspaceNames struct {
	reg *rdb.Registry
	// fixed, when set, replaces the registry (WithWorkspaces).
	fixed []string

	mu    sync.Mutex
	names []string
	read  time.Time
}

const namesFresh = time.Second

func (w *workspaceNames) get(ctx context.Context) ([]string, error) {
	if w.fixed != nil {
		return w.fixed, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.names != nil && time.Since(w.read) < namesFresh {
		return w.names, nil
	}
	names, err := w.reg.Names(ctx)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		// No worker recorded any: a fleet without a workspaces file.
		names = []string{DefaultWorkspace}
	}
	w.names, w.read = names, time.Now()
	return names, nil
}

// WithWorkspaces makes the client accept requests for these workspaces
// only, instead of those the workers recorded in Redis.
func WithWorkspaces(names ...string) ClientOption {
	return func(c *Client) { c.workspaces.fixed = slices.Clone(names) }
}

// Workspaces lists the workspaces requests may name.
func (c *Client) Workspaces(ctx context.Context) ([]string, error) { return c.workspaces.get(ctx) }

// resolveWorkspace fills in the request's workspace when the fleet serves
// only one, and refuses a workspace it does not serve.
func (c *Client) resolveWorkspace(ctx context.Context, req *Request) error {
	names, err := c.workspaces.get(ctx)
	if err != nil {
		return err
	}
	switch {
	case req.Workspace == "" && len(names) == 1:
		req.Workspace = names[0]
		return nil
	case req.Workspace == "":
		return &WorkspaceError{Problem: Problem{Field: "workspace",
			Message: fmt.Sprintf("required: this fleet publishes for %d workspaces (%s)", len(names), strings.Join(names, ", "))}}
	case !slices.Contains(names, req.Workspace):
		return &WorkspaceError{Name: req.Workspace, Problem: Problem{Field: "workspace",
			Message: fmt.Sprintf("unknown workspace %q: this fleet publishes for %s", req.Workspace, strings.Join(names, ", "))}}
	}
	return nil
}

// WorkspaceError refuses a request that names a workspace the fleet does
// not serve, or none where it serves several. Nothing was queued; the
// request is well formed, so the HTTP API answers 422.
type WorkspaceError struct {
	// Name is the unknown workspace; "" when the request named none.
	Name    string
	Problem Problem
}

func (e *WorkspaceError) Error() string { return e.Problem.Field + ": " + e.Problem.Message }

// workspaceAPIs are the Swonkie clients of the workspaces a worker serves,
// replaced whole when the workspaces file is reloaded: a run keeps the
// client it started with.
type workspaceAPIs struct {
	m atomic.Pointer[map[string]*swonkie.Client]
}

func (w *workspaceAPIs) set(apis map[string]*swonkie.Client) {
	m := maps.Clone(apis)
	w.m.Store(&m)
}

func (w *workspaceAPIs) get(name string) (*swonkie.Client, bool) {
	m := w.m.Load()
	if m == nil {
		return nil, false
	}
	api, ok := (*m)[name]
	return api, ok
}

func (w *workspaceAPIs) names() []string {
	m := w.m.Load()
	if m == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(*m))
}

// workspaceWait is how often a pipeline of a workspace this worker does
// not serve (removed from the file, or not added yet) looks again. It
// waits: it is not failed, and the wait spends no retry.
const workspaceWait = 30 * time.Second

// forWorkspace is the pipeline as a run of rec's workspace sees it: its
// calls go through that workspace's client. ok is false when this worker
// does not serve the workspace.
func (p *pipeline) forWorkspace(rec *Record) (*pipeline, bool) {
	api, ok := p.apis.get(workspaceOf(rec))
	if !ok {
		return p, false
	}
	if api == p.api {
		return p, true
	}
	wp := *p
	wp.api = api
	return &wp, true
}

// SetWorkspaces replaces the workspaces this worker serves (a reloaded
// workspaces file) and records their names for the fleet. Runs already
// going keep the client they started with. A workspace paused because
// its key was refused is resumed: the reload may have fixed it, and if
// not, its next call pauses it again.
func (w *Worker) SetWorkspaces(ctx context.Context, apis map[string]*swonkie.Client) error {
	w.p.apis.set(apis)
	if err := rdb.NewRegistry(w.cfg.Redis).SetNames(ctx, w.p.apis.names()); err != nil {
		return err
	}
	return w.p.pauses.reloaded(ctx)
}

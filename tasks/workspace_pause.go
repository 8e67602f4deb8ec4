package tasks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
)

// A workspace whose credentials Swonkie refuses is paused, not failed:
// every pipeline of it waits (no retry spent, nothing failed) until the
// key is fixed, because a refused key is the deployment's problem, never
// the pipeline's. A run that gets a 401 (or a 403 on a call that needs
// nothing but the key) pauses its workspace for the fleet (rdb.Pauses)
// and waits; every run of a paused workspace waits before it starts. An
// operator may pause and resume a workspace by hand; a reload of the
// workspaces file that changes a workspace's key resumes what a refusal
// paused.

// pauseWait is how often a pipeline of a paused workspace looks again.
const pauseWait = 5 * time.Second

// pauseRefresh is how often a worker reads the fleet's pauses (and sets
// mediaflow_workspace_paused); a run reads this worker's copy.
const pauseRefresh = time.Second

// keyOnlyCalls are the calls a 403 to which can only mean the key: they
// name no profile, post or media another workspace (or a missing
// permission on one profile) could explain. A 401 means the credentials
// on any call to the API; a 403 from upload storage is an expired URL.
var keyOnlyCalls = []string{"GET /profiles", "GET /labels", "POST /labels", "POST /media"}

// credentialsRefused reports whether err is Swonkie refusing the
// workspace's credentials, and says so without them.
func credentialsRefused(err error) (why string, refused bool) {
	var se *swonkie.Error
	if !errors.As(err, &se) || strings.HasPrefix(se.Endpoint, "{") {
		return "", false
	}
	call := se.Method + " " + se.Endpoint
	if se.StatusCode == http.StatusUnauthorized || (se.StatusCode == http.StatusForbidden && slices.Contains(keyOnlyCalls, call)) {
		return fmt.Sprintf("Swonkie refused the workspace's credentials: %d %s on %s", se.StatusCode, http.StatusText(se.StatusCode), call), true
	}
	return "", false
}

// workspacePauses is a worker's copy of the fleet's pauses, refreshed
// every pauseRefresh, so a run's check costs no Redis round trip.
type workspacePauses struct {
	store *rdb.Pauses
	names func() []string
	m     *metrics.Metrics
	log   zerolog.Logger
	now   func() time.Time

	mu     sync.Mutex
	paused map[string]*rdb.Pause
	// shown are the workspaces the gauge has a series for.
	shown map[string]bool

	stop chan struct{}
	done chan struct{}
}

func newWorkspacePauses(store *rdb.Pauses, names func() []string, m *metrics.Metrics, now func() time.Time, log zerolog.Logger) *workspacePauses {
	return &workspacePauses{store: store, names: names, m: m, now: now, log: log,
		paused: map[string]*rdb.Pause{}, shown: map[string]bool{}}
}

// get returns ws's pause as last read, nil when it is not paused.
func (w *workspacePauses) get(ws string) *rdb.Pause {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.paused[ws]
}

// pause pauses ws for the fleet after a refusal, and at once in this
// worker's copy.
func (w *workspacePauses) pause(ctx context.Context, ws, why string) {
	p := rdb.Pause{Why: why, At: w.now().UTC()}
	if err := w.store.Set(ctx, ws, p); err != nil {
		w.log.Error().Err(err).Str("workspace", ws).Msg("could not record the workspace's pause; its pipelines wait on this worker")
	}
	w.mu.Lock()
	if w.paused[ws] == nil {
		w.paused[ws] = &p
	}
	w.mu.Unlock()
	w.show()
}

// refresh reads the pauses of the workspaces this worker serves.
func (w *workspacePauses) refresh(ctx context.Context) error {
	names := w.names()
	got, err := w.store.All(ctx, names)
	if err != nil {
		return err
	}
	w.mu.Lock()
	w.paused = got
	w.mu.Unlock()
	w.show()
	return nil
}

// show sets mediaflow_workspace_paused for every workspace served, and
// drops the series of a workspace no longer served.
func (w *workspacePauses) show() {
	if w.m == nil {
		return
	}
	names := w.names()
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, n := range names {
		w.m.WorkspacePaused(n, w.paused[n] != nil)
		w.shown[n] = true
	}
	for n := range w.shown {
		if !slices.Contains(names, n) {
			w.m.WorkspaceGone(n)
			delete(w.shown, n)
		}
	}
}

// reloaded resumes the workspaces served that a refusal paused (not those
// paused by hand), after the workspaces file was reloaded.
func (w *workspacePauses) reloaded(ctx context.Context) error {
	for _, n := range w.names() {
		if err := w.store.Clear(ctx, n, true); err != nil {
			return err
		}
	}
	return w.refresh(ctx)
}

func (w *workspacePauses) start() {
	w.stop, w.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(w.done)
		t := time.NewTicker(pauseRefresh)
		defer t.Stop()
		for {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			if err := w.refresh(ctx); err != nil {
				w.log.Warn().Err(err).Msg("could not read the workspaces' pauses; keeping the last")
			}
			cancel()
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
		}
	}()
}

func (w *workspacePauses) shutdown() {
	if w.stop != nil {
		close(w.stop)
		<-w.done
	}
}

// pausedWait is the wait of a run whose workspace is paused, nil when it
// is not. Webhooks do not call Swonkie, so they never wait.
func (r *run) pausedWait(rec *Record) error {
	if r.row.step == StepNotify || r.p.pauses == nil {
		return nil
	}
	ws := workspaceOf(rec)
	if p := r.p.pauses.get(ws); p != nil {
		return waitFor(pauseWait, "%s: workspace %q is paused (%s); the pipeline waits", r.row.step, ws, p.Why)
	}
	return nil
}

// pauseOnRefusal pauses the run's workspace when err is Swonkie refusing
// its credentials, and turns err into a wait: the pipeline is not to
// blame, and spends no retry.
func (r *run) pauseOnRefusal(ctx context.Context, err error) error {
	why, refused := credentialsRefused(err)
	if !refused || r.p.pauses == nil || r.rec == nil {
		return err
	}
	ws := workspaceOf(r.rec)
	if cur, ok := r.p.apis.get(ws); ok && cur != r.p.api {
		// The key refused is no longer the one served: a reload replaced
		// the client while this call was out (a run keeps the client it
		// started with). That reload resumed the workspace already, and no
		// other one may come, so pausing now would hold its pipelines
		// forever on a key that was fixed. The run waits and goes on with
		// the new client; a new key still refused pauses it then.
		r.log.Warn().Str("workspace", ws).Str("why", why).Msg("Swonkie refused a key a reload has replaced since; the pipeline waits and goes on with the new one")
		return waitFor(pauseWait, "%s: workspace %q: %s, on a key replaced since by a reload; the pipeline waits", r.row.step, ws, why)
	}
	r.log.Error().Str("workspace", ws).Str("why", why).Msg("workspace paused: its pipelines wait until its key is fixed and the workspaces file reloaded, or it is resumed")
	r.p.pauses.pause(ctx, ws, why)
	return waitFor(pauseWait, "%s: workspace %q is paused (%s); the pipeline waits", r.row.step, ws, why)
}

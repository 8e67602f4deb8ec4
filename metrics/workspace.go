package metrics

import (
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// The workspace label: the Swonkie workspaces a deployment publishes for
// are few and configured (the workspaces file bounds them and their
// names), so the series that help tell one workspace's trouble from
// another's carry it: pipelines finished, API calls, budget waits, active
// pipelines, runs deferred. High-cardinality series never do.

// DefaultWorkspace is the workspace of a deployment without a workspaces
// file, and the label of everything counted before InitWorkspaces.
const DefaultWorkspace = "default"

// otherWorkspace is the label of a workspace InitWorkspaces was not
// given: the label set stays what the configuration made it.
const otherWorkspace = "other"

// Reasons of mediaflow_runs_deferred_total: why a run gave its worker
// slot back.
const (
	// DeferredBudget: its workspace's call budget was spent for longer
	// than a run holds its slot.
	DeferredBudget = "budget"
	// DeferredMaxActive: its workspace had maxActive pipelines active.
	DeferredMaxActive = "max_active"
)

type workspaceMetrics struct {
	active   *prometheus.GaugeVec
	deferred *prometheus.CounterVec

	mu    sync.RWMutex
	known []string
}

func newWorkspaceMetrics(reg prometheus.Registerer) *workspaceMetrics {
	w := &workspaceMetrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace,
			Name:      "active_pipelines",
			Help:      "Runs of a workspace's pipelines holding a worker slot in this process now (sum over the workers for the fleet).",
		}, []string{"workspace"}),
		deferred: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "runs_deferred_total",
			Help:      "Runs that gave their worker slot back to come back at their turn, by workspace and reason (budget: its call budget was spent; max_active: it had maxActive pipelines active). No failure, no retry spent.",
		}, []string{"workspace", "reason"}),
		known: []string{DefaultWorkspace},
	}
	reg.MustRegister(w.active, w.deferred)
	w.initWorkspace(DefaultWorkspace)
	return w
}

func (w *workspaceMetrics) initWorkspace(ws string) {
	w.active.WithLabelValues(ws)
	for _, r := range []string{DeferredBudget, DeferredMaxActive} {
		w.deferred.WithLabelValues(ws, r)
	}
}

// label is ws as a label value: one of the known workspaces, or "other".
func (w *workspaceMetrics) label(ws string) string {
	if ws == "" {
		ws = DefaultWorkspace
	}
	w.mu.RLock()
	defer w.mu.RUnlock()
	if slices.Contains(w.known, ws) {
		return ws
	}
	return otherWorkspace
}

func (w *workspaceMetrics) names() []string {
	w.mu.RLock()
	defer w.mu.RUnlock()
	return slices.Clone(w.known)
}

// InitWorkspaces names the workspaces this process publishes for (the
// workspaces file's, bounded by it): their series start at zero, and
// anything counted under another name is counted as "other". A reload
// adds the new names; a removed one keeps its series.
func (m *Metrics) InitWorkspaces(names ...string) {
	m.ws.mu.Lock()
	var added []string
	for _, n := range names {
		if n != "" && !slices.Contains(m.ws.known, n) {
			m.ws.known = append(m.ws.known, n)
			added = append(added, n)
		}
	}
	m.ws.mu.Unlock()
	for _, n := range added {
		m.ws.initWorkspace(n)
		m.pipelines.initWorkspace(n)
		m.budget.initWorkspace(n)
		// The endpoints InitEndpoint named so far, for this one too.
		m.swonkie.seen.Range(func(k, _ any) bool {
			if ep, method, ok := endpointOfKey(k.(string), DefaultWorkspace); ok {
				m.swonkie.initSeries(n, ep, method)
			}
			return true
		})
	}
}

// ActivePipeline counts a run of workspace taking a worker slot (+1) or
// leaving it (-1).
func (m *Metrics) ActivePipeline(workspace string, delta int) {
	m.ws.active.WithLabelValues(m.ws.label(workspace)).Add(float64(delta))
}

// RunDeferred counts a run of workspace that gave its slot back, and why
// (DeferredBudget, DeferredMaxActive).
func (m *Metrics) RunDeferred(workspace, reason string) {
	m.ws.deferred.WithLabelValues(m.ws.label(workspace), oneOf(reason, []string{DeferredBudget, DeferredMaxActive})).Inc()
}

// endpointOfKey splits a swonkieMetrics.seen key of workspace ws.
func endpointOfKey(key, ws string) (endpoint, method string, ok bool) {
	rest, ok := strings.CutPrefix(key, ws+" ")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, ' ')
	if i < 0 {
		return "", "", false
	}
	return rest[:i], rest[i+1:], true
}

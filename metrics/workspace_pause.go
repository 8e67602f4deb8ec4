package metrics

import "github.com/prometheus/client_golang/prometheus"

// workspacePause is mediaflow_workspace_paused: which workspaces wait,
// paused by hand or because Swonkie refused their credentials. One series
// per workspace of the workspaces file, a bounded set.
type workspacePause struct {
	paused *prometheus.GaugeVec
}

func newWorkspacePause(reg prometheus.Registerer) *workspacePause {
	w := &workspacePause{paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "workspace_paused",
		Help:      "1 while the workspace is paused (its pipelines wait): by hand, or because Swonkie refused its credentials; else 0.",
	}, []string{"workspace"})}
	reg.MustRegister(w.paused)
	return w
}

// WorkspacePaused records whether the workspace named is paused.
func (m *Metrics) WorkspacePaused(workspace string, paused bool) {
	v := 0.0
	if paused {
		v = 1
	}
	m.wsPause.paused.WithLabelValues(workspace).Set(v)
}

// WorkspaceGone drops the series of a workspace this worker no longer
// serves (removed from the reloaded workspaces file).
func (m *Metrics) WorkspaceGone(workspace string) {
	m.wsPause.paused.DeleteLabelValues(workspace)
}

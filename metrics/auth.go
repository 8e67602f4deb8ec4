package metrics

import "github.com/prometheus/client_golang/prometheus"

// The HTTP surfaces that authenticate, the values of
// mediaflow_auth_refused_total's surface label.
const (
	// AuthSurfaceAPI is the enqueue API's bearer tokens.
	AuthSurfaceAPI = "api"
	// AuthSurfaceUI is the pipelines page's login form.
	AuthSurfaceUI = "ui"
)

// Why an authentication was refused, the values of the reason label.
const (
	// AuthInvalid: no token, or one that is not configured (401).
	AuthInvalid = "invalid"
	// AuthThrottled: the client address failed too often lately, so the
	// attempt was refused before its token counted (429).
	AuthThrottled = "throttled"
)

var (
	authSurfaces = []string{AuthSurfaceAPI, AuthSurfaceUI}
	authReasons  = []string{AuthInvalid, AuthThrottled}
)

type authMetrics struct {
	refused *prometheus.CounterVec
}

func newAuthMetrics(reg prometheus.Registerer) *authMetrics {
	a := &authMetrics{refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Name:      "auth_refused_total",
		Help:      "Authentication attempts refused, by surface (api, ui) and reason (invalid: 401; throttled: 429, the client address failed too often).",
	}, []string{"surface", "reason"})}
	// Every series from the start, so a rate over them is 0, not absent.
	for _, s := range authSurfaces {
		for _, r := range authReasons {
			a.refused.WithLabelValues(s, r)
		}
	}
	reg.MustRegister(a.refused)
	return a
}

// AuthRefused counts one refused authentication on surface (AuthSurfaceAPI
// or AuthSurfaceUI) for reason (AuthInvalid or AuthThrottled); anything
// else counts as "unknown".
func (m *Metrics) AuthRefused(surface, reason string) {
	m.auth.refused.WithLabelValues(oneOf(surface, authSurfaces), oneOf(reason, authReasons)).Inc()
}

package metricstest_test

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mediaflow/mediaflow/internal/metricstest"
)

func TestReadingARegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "c_total"}, []string{"kind", "extra"})
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	h := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "h_seconds"})
	reg.MustRegister(c, g, h)
	c.WithLabelValues("a", "").Add(2)
	c.WithLabelValues("b", "x").Add(3)
	g.Set(7)
	h.Observe(1)
	h.Observe(2)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"c_total", map[string]string{"kind": "a"}, 2},
		{"c_total", map[string]string{"kind": "a", "extra": ""}, 2},
		{"c_total", map[string]string{"kind": "b", "extra": "x"}, 3},
		{"c_total", map[string]string{"kind": "b", "extra": ""}, 0},
		{"c_total", map[string]string{"kind": "none"}, 0},
		{"g", nil, 7},
		{"h_seconds", nil, 2},
		{"absent", nil, 0},
	} {
		if got := metricstest.Value(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("Value(%s, %v) = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if n := len(metricstest.Family(t, reg, "c_total")); n != 2 {
		t.Errorf("Family(c_total) has %d series, want 2", n)
	}
}

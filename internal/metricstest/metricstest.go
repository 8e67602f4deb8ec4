// Package metricstest reads what a Prometheus registry holds, for tests:
// every family, one family, or one series by its labels.
package metricstest

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Gather returns every family g holds, failing the test when it cannot.
func Gather(t testing.TB, g prometheus.Gatherer) []*dto.MetricFamily {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatalf("gather metrics: %v", err)
	}
	return families
}

// Family returns the series of family name (nil when there is none).
func Family(t testing.TB, g prometheus.Gatherer, name string) []*dto.Metric {
	t.Helper()
	for _, f := range Gather(t, g) {
		if f.GetName() == name {
			return f.GetMetric()
		}
	}
	return nil
}

// Series returns the first series of family name that has every label of
// labels with its value (a label wanted "" may also be absent), or nil.
func Series(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) *dto.Metric {
	t.Helper()
next:
	for _, m := range Family(t, g, name) {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		return m
	}
	return nil
}

// Value is what one series says: a counter's or a gauge's value, a
// histogram's sample count; 0 when there is no such series.
func Value(t testing.TB, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	m := Series(t, g, name, labels)
	switch {
	case m == nil:
		return 0
	case m.Counter != nil:
		return m.GetCounter().GetValue()
	case m.Gauge != nil:
		return m.GetGauge().GetValue()
	case m.Histogram != nil:
		return float64(m.GetHistogram().GetSampleCount())
	}
	t.Fatalf("%s is neither a counter, a gauge nor a histogram", name)
	return 0
}

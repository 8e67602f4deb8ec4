package metrics_test

import (
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/mediaflow/mediaflow/internal/metricstest"
	"github.com/mediaflow/mediaflow/metrics"
)

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// series returns the metric of family name whose labels include all of
// labelPairs (name, value, name, value…; a value "" also matches an
// absent label), or nil.
func series(t *testing.T, m *metrics.Metrics, name string, labelPairs ...string) *dto.Metric {
	t.Helper()
	labels := map[string]string{}
	for i := 0; i+1 < len(labelPairs); i += 2 {
		labels[labelPairs[i]] = labelPairs[i+1]
	}
	return metricstest.Series(t, m.Registry(), name, labels)
}

func hasSeries(t *testing.T, m *metrics.Metrics, name string, labelPairs ...string) bool {
	t.Helper()
	return series(t, m, name, labelPairs...) != nil
}

func histogramCount(t *testing.T, m *metrics.Metrics, name string, labelPairs ...string) uint64 {
	t.Helper()
	s := series(t, m, name, labelPairs...)
	if s == nil {
		t.Fatalf("no series %s%v", name, labelPairs)
	}
	return s.GetHistogram().GetSampleCount()
}

func histogramSum(t *testing.T, m *metrics.Metrics, name string, labelPairs ...string) float64 {
	t.Helper()
	s := series(t, m, name, labelPairs...)
	if s == nil {
		t.Fatalf("no series %s%v", name, labelPairs)
	}
	return s.GetHistogram().GetSampleSum()
}

// value is the value of a counter or gauge series, 0 if it does not exist.
func value(t *testing.T, m *metrics.Metrics, name string, labelPairs ...string) float64 {
	t.Helper()
	s := series(t, m, name, labelPairs...)
	switch {
	case s == nil:
		return 0
	case s.Counter != nil:
		return s.GetCounter().GetValue()
	case s.Gauge != nil:
		return s.GetGauge().GetValue()
	}
	t.Fatalf("%s is neither a counter nor a gauge", name)
	return 0
}

package metrics_test

import (
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

func TestWebhookDelivery(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	// Every outcome exists at zero before the first delivery.
	for _, o := range []string{"delivered", "retrying", "gone", "gave_up"} {
		if !hasSeries(t, m, "mediaflow_webhook_deliveries_total", "outcome", o) {
			t.Errorf("no zero series for outcome %s", o)
		}
	}
	calls := []struct {
		outcome string
		took    time.Duration
	}{
		{metrics.WebhookRetrying, 10 * time.Second},
		{metrics.WebhookRetrying, 2 * time.Second},
		{metrics.WebhookDelivered, 40 * time.Millisecond},
		{metrics.WebhookGone, 30 * time.Millisecond},
		{metrics.WebhookGaveUp, time.Second},
		{"exploded", time.Millisecond},
	}
	for _, c := range calls {
		m.WebhookDelivery(c.outcome, c.took)
	}
	for outcome, want := range map[string]float64{"delivered": 1, "retrying": 2, "gone": 1, "gave_up": 1, "unknown": 1} {
		if got := value(t, m, "mediaflow_webhook_deliveries_total", "outcome", outcome); got != want {
			t.Errorf("deliveries_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if got := histogramCount(t, m, "mediaflow_webhook_delivery_duration_seconds"); got != uint64(len(calls)) {
		t.Errorf("delivery duration count = %d, want %d", got, len(calls))
	}
	if got, want := histogramSum(t, m, "mediaflow_webhook_delivery_duration_seconds"), 13.071; got < want-1e-9 || got > want+1e-9 {
		t.Errorf("delivery duration sum = %v, want %v", got, want)
	}
}

func TestDuplicatePostsDeleted(t *testing.T) {
	t.Parallel()
	m := metrics.New(metrics.Options{})
	if !hasSeries(t, m, "mediaflow_duplicate_posts_deleted_total") {
		t.Fatal("duplicate_posts_deleted_total is not exported before the first duplicate")
	}
	for _, n := range []int{2, 0, -1, 1} {
		m.DuplicatePostsDeleted(n)
	}
	if got := value(t, m, "mediaflow_duplicate_posts_deleted_total"); got != 3 {
		t.Errorf("duplicate_posts_deleted_total = %v, want 3 (2 + 1; zero and negative counts add nothing)", got)
	}
}

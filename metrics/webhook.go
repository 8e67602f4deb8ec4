package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Outcomes of one webhook delivery attempt, the values of
// mediaflow_webhook_deliveries_total's outcome label.
const (
	// WebhookDelivered: the receiver answered 2xx.
	WebhookDelivered = "delivered"
	// WebhookRetrying: any other answer, a timeout or a network error; the
	// attempt will be made again.
	WebhookRetrying = "retrying"
	// WebhookGone: the receiver answered 410 Gone; mediaflow stops for good.
	WebhookGone = "gone"
	// WebhookGaveUp: the retry window ran out without a 2xx.
	WebhookGaveUp = "gave_up"
)

var webhookOutcomes = []string{WebhookDelivered, WebhookRetrying, WebhookGone, WebhookGaveUp}

// webhookDurationBuckets end at the 10 s delivery timeout: a receiver that
// takes longer counts in +Inf, which is where a timeout belongs.
var webhookDurationBuckets = []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

type webhookMetrics struct {
	deliveries *prometheus.CounterVec
	duration   prometheus.Histogram
}

func newWebhookMetrics(reg prometheus.Registerer) *webhookMetrics {
	w := &webhookMetrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace,
			Name:      "webhook_deliveries_total",
			Help:      "Webhook delivery attempts by outcome (delivered, retrying, gone, gave_up).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace,
			Name:      "webhook_delivery_duration_seconds",
			Help:      "Time one webhook delivery attempt took, from sending the request to its answer or failure.",
			Buckets:   webhookDurationBuckets,
		}),
	}
	// All four from the start: the failing-webhooks alert and the
	// dashboard divide by the total.
	for _, o := range webhookOutcomes {
		w.deliveries.WithLabelValues(o)
	}
	reg.MustRegister(w.deliveries, w.duration)
	return w
}

// WebhookDelivery records one attempt to deliver a webhook event: outcome
// is one of delivered, retrying, gone, gave_up (anything else counts as
// "unknown"), took how long the attempt lasted. A last attempt that fails
// is reported once, as gave_up, not also as retrying.
func (m *Metrics) WebhookDelivery(outcome string, took time.Duration) {
	m.webhooks.deliveries.WithLabelValues(oneOf(outcome, webhookOutcomes)).Inc()
	m.webhooks.duration.Observe(took.Seconds())
}

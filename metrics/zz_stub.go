package metrics

import "time"

// TEMPORARY until helper/deploy lands.
func (m *Metrics) DuplicatePostsDeleted(n int)                        {}
func (m *Metrics) WebhookDelivery(outcome string, took time.Duration) {}

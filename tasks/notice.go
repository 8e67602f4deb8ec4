package tasks

// The record's side of webhooks: which events a pipeline owes its caller,
// and what became of each. Sending them is webhook.go's; the step that
// does is step_notify.go.

import (
	"strconv"
	"time"
)

// Event types of the caller notification (the webhook's "type").
const (
	// EventAttached: the post is created (or updated) and staged. Sent only
	// when the request asks for it.
	EventAttached = "pipeline.attached"
	// The pipeline ended; one of these is always sent when a webhook is set.
	EventSucceeded = "pipeline.succeeded"
	EventFailed    = "pipeline.failed"
	EventCancelled = "pipeline.cancelled"
)

// EventTypes lists every event type.
var EventTypes = []string{EventAttached, EventSucceeded, EventFailed, EventCancelled}

// WebhookSpec is where a request's notifications go.
type WebhookSpec struct {
	// URL receives the events (https, unless its host is allowed).
	URL string `json:"url"`
	// Events are extra event types to send besides the terminal one
	// (today only pipeline.attached).
	Events []string `json:"events,omitempty"`
}

// Delivery states of an event.
const (
	DeliveryPending   = "pending"   // not delivered yet; retried
	DeliveryDelivered = "delivered" // the receiver answered 2xx
	DeliveryFailed    = "failed"    // gave up: retried for WEBHOOK_RETRY_FOR, or refused for good
	DeliveryGone      = "gone"      // the receiver answered 410 Gone: never again
)

// WebhookState is what became of a pipeline's notifications. Its top-level
// fields describe the latest event.
type WebhookState struct {
	// URL is where the events go (shown without its query).
	URL         string     `json:"url"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"lastStatus,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
	Events      []Notice   `json:"events"`
}

// Notice is one event of one pipeline: made once, by the write that made
// it happen, and delivered until the receiver takes it, always under the
// same id.
type Notice struct {
	// ID is the webhook-id header: receivers deduplicate by it.
	ID          string     `json:"id"`
	Type        string     `json:"type"`
	At          time.Time  `json:"at"`
	State       string     `json:"state"`
	Attempts    int        `json:"attempts"`
	LastStatus  int        `json:"lastStatus,omitempty"`
	LastError   string     `json:"lastError,omitempty"`
	DeliveredAt *time.Time `json:"deliveredAt,omitempty"`
	// Redeliveries counts redeliveries asked for (each one a new task,
	// the same webhook-id).
	Redeliveries int `json:"redeliveries,omitempty"`
	// RedeliveredAt is when the last redelivery was asked for: its
	// retries are counted from there, not from At (an event given up
	// after WEBHOOK_RETRY_FOR would otherwise get one attempt).
	RedeliveredAt *time.Time `json:"redeliveredAt,omitempty"`
	// Attempt is the pipeline's attempt that made the event (its replays
	// then, Record.Replays): a replay that ends again, even the same way,
	// is an ending of its own, owed to a caller told by webhook only.
	Attempt int `json:"attempt,omitempty"`
	// took is how long the attempt a write records lasted: read by observe
	// from that write, never stored.
	took time.Duration
}

// webhookURL is where r's events go: the request's webhook, else
// defaultURL (WEBHOOK_URL; "" sends none).
func webhookURL(r *Record, defaultURL string) string {
	if r.Request.Webhook != nil && r.Request.Webhook.URL != "" {
		return r.Request.Webhook.URL
	}
	return defaultURL
}

// noticeMadeAt is when the event a notify:webhook task delivers was made:
// its retries are counted from there (the step's budget by time).
func noticeMadeAt(r *Record, p Payload) time.Time {
	if n := r.noticeOf(p.Event, p.Attempt); n != nil {
		return n.owedSince()
	}
	return time.Time{}
}

// owedSince is when n became owed: when it was made, or when its last
// redelivery was asked for.
func (n *Notice) owedSince() time.Time {
	if n.RedeliveredAt != nil && n.RedeliveredAt.After(n.At) {
		return *n.RedeliveredAt
	}
	return n.At
}

// noticeID is an event's webhook-id: derived from the pipeline, the type
// and the attempt, so no crash, retry or duplicate task can make a second
// one, while a replay's ending is not deduplicated by receivers as the
// earlier attempt's. The first attempt's ids are what they always were.
func noticeID(pipelineID, typ string, attempt int) string {
	id := "msg_" + pipelineID + "_" + typ
	if attempt > 0 {
		id += "_a" + strconv.Itoa(attempt)
	}
	return id
}

// addNotice makes the event typ of the current attempt owed, once: a
// second call for the same type in the same attempt changes nothing. url
// is where it goes ("" sends nothing).
func (r *Record) addNotice(url, typ string, now time.Time) {
	if url == "" {
		return
	}
	if r.Webhook == nil {
		r.Webhook = &WebhookState{URL: RedactSource(url)}
	}
	if r.notice(typ) != nil {
		return
	}
	r.Webhook.Events = append(r.Webhook.Events, Notice{ID: noticeID(r.ID, typ, r.Replays), Type: typ, At: now,
		State: DeliveryPending, Attempt: r.Replays})
	r.Webhook.summarize()
}

// notice returns the current attempt's event typ, or nil.
func (r *Record) notice(typ string) *Notice { return r.noticeOf(typ, r.Replays) }

// noticeOf returns the event typ made by the pipeline's attempt, or nil.
func (r *Record) noticeOf(typ string, attempt int) *Notice {
	if r.Webhook == nil {
		return nil
	}
	for i := range r.Webhook.Events {
		if n := &r.Webhook.Events[i]; n.Type == typ && n.Attempt == attempt {
			return n
		}
	}
	return nil
}

// owedNotices lists the events still to deliver.
func (r *Record) owedNotices() []Notice {
	if r.Webhook == nil {
		return nil
	}
	var out []Notice
	for _, n := range r.Webhook.Events {
		if n.State == DeliveryPending {
			out = append(out, n)
		}
	}
	return out
}

// notifyOwedSince is when the oldest owed event happened.
func (r *Record) notifyOwedSince() (time.Time, bool) {
	owed := r.owedNotices()
	if len(owed) == 0 {
		return time.Time{}, false
	}
	since := owed[0].owedSince()
	for _, n := range owed[1:] {
		if at := n.owedSince(); at.Before(since) {
			since = at
		}
	}
	return since, true
}

// summarize copies the latest event's delivery to the top-level fields.
func (w *WebhookState) summarize() {
	if len(w.Events) == 0 {
		return
	}
	last := w.Events[len(w.Events)-1]
	w.State, w.Attempts, w.LastStatus, w.LastError, w.DeliveredAt = last.State, last.Attempts, last.LastStatus, last.LastError, last.DeliveredAt
}

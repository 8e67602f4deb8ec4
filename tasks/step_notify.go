package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// notify is notify:webhook: deliver one event of a pipeline until the
// receiver takes it (2xx) or says it never will (410 Gone). Any other
// answer is a failed run: run.failed records the attempt on the event
// (deliveryFailed), and the step's budget by time (verdict.go) says when
// it is given up. A worker killed between sending and writing sends it
// again under the same webhook-id, which receivers deduplicate by.
func (p *pipeline) notify(ctx context.Context, r *run) error {
	n := r.rec.noticeOf(r.pl.Event, r.pl.Attempt)
	if n == nil || n.State != DeliveryPending {
		return nil
	}
	full, err := p.store.getFull(ctx, r.rec.ID)
	if err != nil {
		return wrap(err, "notify %s of pipeline %s: read the record", r.pl.Event, r.rec.ID)
	}
	body, err := json.Marshal(WebhookEvent{Type: n.Type, Timestamp: n.At, Data: full.public()})
	if err != nil {
		return wrap(err, "notify %s: encode", n.Type)
	}
	url := p.webhook.urlFor(r.rec)
	start := p.now()
	status, sendErr := p.webhook.send(ctx, url, n.ID, start, body)
	took := p.now().Sub(start)
	state := ""
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		state = DeliveryDelivered
	case sendErr == nil && status == http.StatusGone:
		state = DeliveryGone
	default:
		msg := fmt.Sprintf("receiver answered %d", status)
		if sendErr != nil {
			msg = sendErr.Error()
		}
		return &deliveryError{status: status, took: took, msg: msg,
			err: fmt.Errorf("notify %s of pipeline %s to %s: %s", n.Type, r.rec.ID, RedactSource(url), msg)}
	}
	now := p.now().UTC()
	err = r.save(ctx, func(rec *Record) error {
		n := rec.noticeOf(r.pl.Event, r.pl.Attempt)
		if n == nil || n.State != DeliveryPending {
			return errNoChange
		}
		n.Attempts++
		n.LastStatus, n.LastError, n.took = status, "", took
		n.State = state
		if state == DeliveryDelivered {
			n.DeliveredAt = &now
		} else {
			n.LastError = fmt.Sprintf("receiver answered %d", status)
		}
		rec.Webhook.summarize()
		return nil
	})
	if err != nil {
		return wrap(err, "notify %s of pipeline %s: record the attempt", n.Type, r.rec.ID)
	}
	r.log.Info().Str("event", n.Type).Str("outcome", state).Int("status", status).Msg("webhook")
	return nil
}

// deliveryError is an attempt the receiver did not take: what
// deliveryFailed writes on the event.
type deliveryError struct {
	status int
	took   time.Duration
	msg    string
	err    error
}

func (e *deliveryError) Error() string { return e.err.Error() }

// deliveryFailed is the webhook row's onFailure: the attempt is written on
// its event, which is given up (failed) once the verdict says so.
func deliveryFailed(r *Record, p Payload, err error, gaveUp bool, _ time.Time) {
	n := r.noticeOf(p.Event, p.Attempt)
	if n == nil || n.State != DeliveryPending {
		return
	}
	var de *deliveryError
	if errors.As(err, &de) {
		n.Attempts++
		n.LastStatus, n.LastError, n.took = de.status, de.msg, de.took
	}
	if gaveUp {
		n.State = DeliveryFailed
	}
	r.Webhook.summarize()
}

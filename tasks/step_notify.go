package tasks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

// webhooks is how a worker tells the apps that enqueue how their pipelines
// ended: the Standard Webhooks scheme (docs/webhooks.md).
type webhooks struct {
	// defaultURL is WEBHOOK_URL: where events of requests that name no
	// webhook go ("" sends none).
	defaultURL string
	// secrets sign every event, each giving one signature (rotation).
	secrets [][]byte
	client  *http.Client
	// retryFor is how long an event is retried before it is given up.
	retryFor time.Duration
}

// WebhookTimeout bounds one delivery attempt.
const WebhookTimeout = 10 * time.Second

func newWebhooks(defaultURL string, secrets [][]byte, retryFor time.Duration, rt http.RoundTripper) webhooks {
	return webhooks{
		defaultURL: defaultURL,
		secrets:    secrets,
		retryFor:   retryFor,
		client: &http.Client{
			Transport: rt,
			Timeout:   WebhookTimeout,
			// A redirect is an answer, not a new address: the receiver is
			// the one the request named, and the signature is for it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
}

// urlFor is where r's events go.
func (w webhooks) urlFor(r *Record) string {
	if r.Request.Webhook != nil && r.Request.Webhook.URL != "" {
		return r.Request.Webhook.URL
	}
	return w.defaultURL
}

// ParseWebhookSecrets reads WEBHOOK_SECRET: space-separated whsec_<base64>
// secrets (several while rotating).
func ParseWebhookSecrets(s string) ([][]byte, error) {
	var out [][]byte
	for _, f := range strings.Fields(s) {
		b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(f, "whsec_"))
		if err != nil || !strings.HasPrefix(f, "whsec_") || len(b) < 16 {
			return nil, errors.New("WEBHOOK_SECRET: each secret is whsec_ followed by base64 of at least 16 bytes")
		}
		out = append(out, b)
	}
	return out, nil
}

// Sign returns the webhook-signature header of a Standard Webhooks event:
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" for each secret,
// space-separated.
func Sign(secrets [][]byte, id string, ts time.Time, body []byte) string {
	sigs := make([]string, 0, len(secrets))
	for _, s := range secrets {
		m := hmac.New(sha256.New, s)
		fmt.Fprintf(m, "%s.%d.", id, ts.Unix())
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	return strings.Join(sigs, " ")
}

// WebhookEvent is the JSON body of a webhook.
type WebhookEvent struct {
	Type      string    `json:"type"`
	Timestamp time.Time `json:"timestamp"`
	Data      *Record   `json:"data"`
}

// notifyRetries: a webhook is retried by time (webhooks.retryFor), not by
// count.
func notifyRetries(Timing) int { return 100000 }

// notify is notify:webhook: deliver one event of a pipeline until the
// receiver takes it (2xx), says it never will (410 Gone), or the retry
// time runs out. Every attempt is written to the event; a worker killed
// between sending and writing sends it again under the same webhook-id,
// which receivers deduplicate by.
func (p *pipeline) notify(ctx context.Context, r *run) error {
	n := r.rec.notice(r.pl.Event)
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

	now := p.now().UTC()
	outcome := metrics.WebhookRetrying
	switch {
	case sendErr == nil && status >= 200 && status < 300:
		outcome = metrics.WebhookDelivered
	case status == http.StatusGone:
		outcome = metrics.WebhookGone
	case now.Sub(n.At) > p.webhook.retryFor:
		outcome = metrics.WebhookGaveUp
	}
	msg := ""
	switch {
	case sendErr != nil:
		msg = sendErr.Error()
	case outcome != metrics.WebhookDelivered:
		msg = fmt.Sprintf("receiver answered %d", status)
	}
	err = r.save(ctx, func(rec *Record) error {
		n := rec.notice(r.pl.Event)
		if n == nil || n.State != DeliveryPending {
			return errNoChange
		}
		n.Attempts++
		n.LastStatus, n.LastError = status, msg
		switch outcome {
		case metrics.WebhookDelivered:
			n.State, n.DeliveredAt = DeliveryDelivered, &now
		case metrics.WebhookGone:
			n.State = DeliveryGone
		case metrics.WebhookGaveUp:
			n.State = DeliveryFailed
		}
		rec.Webhook.summarize()
		return nil
	})
	p.obs.WebhookDelivery(outcome, took)
	if err != nil {
		return wrap(err, "notify %s of pipeline %s: record the attempt", n.Type, r.rec.ID)
	}
	if outcome == metrics.WebhookRetrying {
		return fmt.Errorf("notify %s of pipeline %s to %s: %s", n.Type, r.rec.ID, RedactSource(url), msg)
	}
	r.log.Info().Str("event", n.Type).Str("outcome", outcome).Int("status", status).Msg("webhook")
	return nil
}

// send makes one signed delivery attempt and returns the receiver's
// status.
func (w webhooks) send(ctx context.Context, url, id string, at time.Time, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook url: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "mediaflow-webhooks")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(at.Unix(), 10))
	if len(w.secrets) > 0 {
		req.Header.Set("webhook-signature", Sign(w.secrets, id, at, body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// The error text carries the URL, query included: say only why.
		var ue interface{ Timeout() bool }
		if errors.As(err, &ue) && ue.Timeout() {
			return 0, errors.New("no answer within " + WebhookTimeout.String())
		}
		var ue2 *neturl.Error
		if errors.As(err, &ue2) {
			err = ue2.Err
		}
		return 0, errors.New("could not reach the receiver: " + err.Error())
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode, nil
}

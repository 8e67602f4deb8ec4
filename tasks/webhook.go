package tasks

// The HTTP side of webhooks: where events go, how they are signed
// (Standard Webhooks) and sent. What a pipeline owes is notice.go's; the
// step that delivers is step_notify.go.

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	neturl "net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/tracing"
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
	// tracer starts a client span per delivery, whose context the
	// receiver gets as traceparent.
	tracer trace.Tracer
}

// WebhookTimeout bounds one delivery attempt.
const WebhookTimeout = 10 * time.Second

func newWebhooks(defaultURL string, secrets [][]byte, rt http.RoundTripper) webhooks {
	return webhooks{
		defaultURL: defaultURL,
		secrets:    secrets,
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
func (w webhooks) urlFor(r *Record) string { return webhookURL(r, w.defaultURL) }

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

// send makes one signed delivery attempt and returns the receiver's
// status. The attempt is a client span, whose W3C trace context the
// receiver gets (traceparent), so its own trace can join the pipeline's.
func (w webhooks) send(ctx context.Context, url, id string, at time.Time, body []byte) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("webhook url: %w", err)
	}
	ctx, span := startDelivery(ctx, w.tracer, req.URL)
	defer func() { endDelivery(span, status, err) }()
	req = req.WithContext(ctx)
	for k, v := range tracing.Inject(ctx) {
		req.Header.Set(k, v)
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

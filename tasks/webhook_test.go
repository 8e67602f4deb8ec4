package tasks

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// receiver is an app's webhook endpoint: it answers with the next status
// of its script (the last one from then on) and keeps what it got.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []delivery
	// answers are the statuses it gives, in order; the last repeats.
	answers []int
	// location is where a 3xx answer points.
	location string
}

type delivery struct {
	id, ts, sig string
	traceparent string
	body        []byte
	event       WebhookEvent
}

func newReceiver(t *testing.T, answers ...int) *receiver {
	t.Helper()
	r := &receiver{answers: answers}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		d := delivery{id: req.Header.Get("webhook-id"), ts: req.Header.Get("webhook-timestamp"), sig: req.Header.Get("webhook-signature"), body: body,
			traceparent: req.Header.Get("traceparent")}
		_ = json.Unmarshal(body, &d.event)
		r.mu.Lock()
		r.got = append(r.got, d)
		status := 200
		if len(r.answers) > 0 {
			status = r.answers[min(len(r.got), len(r.answers))-1]
		}
		r.mu.Unlock()
		if status >= 300 && status < 400 {
			w.Header().Set("Location", r.location)
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) deliveries() []delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]delivery(nil), r.got...)
}

// verify checks a Standard Webhooks signature the way a receiver written
// from the scheme's description would.
func verify(secret []byte, d delivery) bool {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(d.id + "." + d.ts + "."))
	m.Write(d.body)
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	for _, s := range strings.Fields(d.sig) {
		if hmac.Equal([]byte(s), []byte(want)) {
			return true
		}
	}
	return false
}

var webhookSecret = []byte("0123456789abcdef-test-secret")

func webhookSetup(t *testing.T, opts ...func(*setupConfig)) *bundle {
	t.Helper()
	return setup(t, append([]func(*setupConfig){func(c *setupConfig) {
		c.allowHosts = []string{"127.0.0.1"}
		c.secrets = [][]byte{webhookSecret}
	}}, opts...)...)
}

func TestWebhookIsSignedAndDeliveredOnce(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t)
	rcv := newReceiver(t)
	req := b.request(ActionPublishNow, "a.png")
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL + "/hooks?token=abc", Events: []string{EventAttached}}
	rec := b.wait(b.publish(req).ID)
	rec = b.waitRecord(rec.ID, "the webhooks", func(r *Record) bool {
		return r.Webhook != nil && len(r.owedNotices()) == 0 && len(r.Webhook.Events) == 2
	})
	got := rcv.deliveries()
	if len(got) != 2 {
		t.Fatalf("%d deliveries, want attached and succeeded: %+v", len(got), got)
	}
	for i, want := range []string{EventAttached, EventSucceeded} {
		d := got[i]
		if d.event.Type != want || d.id != noticeID(rec.ID, want, 0) || d.event.Data == nil || d.event.Data.ID != rec.ID {
			t.Errorf("delivery %d: id %s, event %+v", i, d.id, d.event)
		}
		// The event says what kind of post went out.
		if !strings.Contains(string(d.body), `"postType":"MEDIA"`) {
			t.Errorf("delivery %d does not carry the post type: %s", i, d.body)
		}
		if !verify(webhookSecret, d) {
			t.Errorf("delivery %d: signature %q does not verify", i, d.sig)
		}
		if verify([]byte("another-secret-of-some-length"), d) {
			t.Errorf("delivery %d verifies with the wrong secret", i)
		}
		if ts, err := strconv.ParseInt(d.ts, 10, 64); err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("delivery %d: webhook-timestamp %q", i, d.ts)
		}
		if strings.Contains(string(d.body), "token=abc") {
			t.Errorf("the event shows the webhook URL's query")
		}
	}
	if rec.Webhook.State != DeliveryDelivered || rec.Webhook.Attempts != 1 || rec.Webhook.DeliveredAt == nil ||
		strings.Contains(rec.Webhook.URL, "abc") {
		t.Errorf("webhook state %+v", rec.Webhook)
	}
	if v := b.metricReaches("mediaflow_webhook_deliveries_total", map[string]string{"outcome": "delivered"}, 2); v != 2 {
		t.Errorf("delivered counter %v, want 2", v)
	}

	// A worker killed after sending and before writing that it did sends
	// the event again — under the same webhook-id, so receivers that
	// deduplicate by it see it once; and a redelivery asked for keeps it.
	ctx := context.Background()
	full, err := b.client.store.get(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.store.update(ctx, full, func(r *Record) error {
		r.notice(EventSucceeded).State = DeliveryPending // as if the write had been lost
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.worker.RunSweep(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.Redeliver(ctx, rec.ID); err != nil && !errors.Is(err, ErrNoWebhook) {
		t.Fatal(err)
	}
	b.waitRecord(rec.ID, "the resend", func(r *Record) bool { return len(r.owedNotices()) == 0 })
	waitUntil(t, func() bool { return len(rcv.deliveries()) >= 3 })
	ids := map[string]int{}
	for _, d := range rcv.deliveries() {
		ids[d.id]++
	}
	if len(ids) != 2 {
		t.Errorf("deliveries carried %d webhook-ids, want 2 (one per event): %v", len(ids), ids)
	}
}

func TestWebhookRetriesUntilTheReceiverTakesIt(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		answers      []int
		wantState    string
		wantAttempts int
		wantStatus   int
	}{
		{"500 twice then 200", []int{500, 500, 200}, DeliveryDelivered, 3, 200},
		{"410 stops at once", []int{410}, DeliveryGone, 1, 410},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := webhookSetup(t)
			rcv := newReceiver(t, tt.answers...)
			req := b.request(ActionDraft, "a.png")
			req.Webhook = &WebhookSpec{URL: rcv.srv.URL}
			rec := b.wait(b.publish(req).ID)
			rec = b.waitRecord(rec.ID, "the webhook to settle", func(r *Record) bool {
				return r.Webhook != nil && r.Webhook.State != DeliveryPending
			})
			if w := rec.Webhook; w.State != tt.wantState || w.Attempts != tt.wantAttempts || w.LastStatus != tt.wantStatus {
				t.Fatalf("webhook %+v; want %s after %d attempts", w, tt.wantState, tt.wantAttempts)
			}
			time.Sleep(300 * time.Millisecond) // an extra attempt would show now
			if n := len(rcv.deliveries()); n != tt.wantAttempts {
				t.Fatalf("receiver got %d requests, want %d", n, tt.wantAttempts)
			}
		})
	}
}

// A receiver that never takes the event: retried until WEBHOOK_RETRY_FOR
// has passed since the event was made (the webhook row's budget by time,
// verdict.go), then given up; each attempt is counted once, the last as
// gave_up.
func TestWebhookGivesUpByTime(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.WebhookRetryFor = 600 * time.Millisecond
	b := webhookSetup(t, func(c *setupConfig) { c.timing = timing })
	rcv := newReceiver(t, http.StatusInternalServerError)
	req := b.request(ActionDraft, "a.png")
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL}
	rec := b.wait(b.publish(req).ID)
	rec = b.waitRecord(rec.ID, "the webhook to be given up", func(r *Record) bool {
		return r.Webhook != nil && r.Webhook.State != DeliveryPending
	})
	w := rec.Webhook
	if w.State != DeliveryFailed || w.Attempts < 2 || w.LastStatus != http.StatusInternalServerError {
		t.Fatalf("webhook %+v; want failed after a few attempts", w)
	}
	if n := len(rcv.deliveries()); n != w.Attempts {
		t.Errorf("receiver got %d requests, the record counts %d attempts", n, w.Attempts)
	}
	gaveUp := b.metricValue("mediaflow_webhook_deliveries_total", map[string]string{"outcome": "gave_up"})
	retrying := b.metricValue("mediaflow_webhook_deliveries_total", map[string]string{"outcome": "retrying"})
	if gaveUp != 1 || retrying != float64(w.Attempts-1) {
		t.Errorf("deliveries counted gave_up %v, retrying %v; want 1 and %d", gaveUp, retrying, w.Attempts-1)
	}
	if !hasEvent(rec, StepNotify, "failure", "receiver answered 500") {
		t.Errorf("the history does not show the webhook's step giving up: %s", dump(rec))
	}
}

// A redirect is an answer, not a new address: the signed event is not
// sent on, and the delivery is retried like any other failure.
func TestWebhookRedirectIsNotFollowed(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t)
	elsewhere := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("the redirect target got the event")
	}))
	t.Cleanup(elsewhere.Close)
	rcv := newReceiver(t, 307)
	rcv.location = elsewhere.URL + "/hook"
	req := b.request(ActionDraft, "a.png")
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL}
	rec := b.wait(b.publish(req).ID)
	rec = b.waitRecord(rec.ID, "a failed attempt", func(r *Record) bool { return r.Webhook != nil && r.Webhook.Attempts >= 1 })
	if rec.Webhook.State != DeliveryPending || rec.Webhook.LastStatus != 307 {
		t.Fatalf("after a redirect: %+v", rec.Webhook)
	}
}

// The webhook URL goes through the same address guard as media URLs.
func TestWebhookURLIsCheckedAtEnqueue(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	tests := []struct {
		name, url string
		allowed   []string
		ok        bool
	}{
		{"public https", "https://hooks.example.com/mediaflow", nil, true},
		{"private address", "https://10.0.0.5/hook", nil, false},
		{"private address, allowed", "http://10.0.0.5/hook", []string{"10.0.0.5"}, true},
		{"loopback", "https://127.0.0.1:8443/hook", nil, false},
		{"plain http", "http://hooks.example.com/mediaflow", nil, false},
		{"user info", "https://user:pw@hooks.example.com/", nil, false},
		{"not a URL", "hooks", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, err := source.New(source.Config{Root: b.root, AllowedHosts: tt.allowed})
			if err != nil {
				t.Fatal(err)
			}
			c := NewClient(b.redis.Client, WithSources(o), WithTiming(testTiming), WithoutPreflight())
			defer c.Close()
			req := b.request(ActionDraft, "a.png")
			req.Key = fmt.Sprintf("webhook-check-%s", tt.name)
			req.Webhook = &WebhookSpec{URL: tt.url}
			_, _, err = c.Publish(context.Background(), req)
			var ve *ValidationError
			switch {
			case tt.ok && err != nil:
				t.Fatalf("refused: %v", err)
			case !tt.ok && (!errors.As(err, &ve) || !strings.Contains(err.Error(), "webhook.url")):
				t.Fatalf("err = %v, want a validation error on webhook.url", err)
			}
		})
	}
}

// One profile failing while another publishes: the pipeline succeeds with
// partial set, and the record and the event say which profile failed.
func TestPartialPublicationSucceedsAndSaysSo(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t, func(c *setupConfig) {
		c.sandbox.Faults = sandbox.FaultPlan{"PATCH /posts/{id}/stage/{stage}": {PartialPublish: 1}}
	})
	rcv := newReceiver(t)
	req := b.request(ActionPublishNow, "a.png")
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL}
	rec := b.wait(b.publish(req).ID)
	if rec.State != StateSucceeded || !rec.Partial || len(rec.Publication) != 2 {
		t.Fatalf("ended %s, partial=%v, publication %+v", dump(rec), rec.Partial, rec.Publication)
	}
	failed := 0
	for _, p := range rec.Publication {
		if p.PublishStatus == "ERROR" {
			failed++
		}
	}
	if failed != 1 || !hasEvent(rec, StepPublish, "ok", "failed on") {
		t.Errorf("publication %+v: want one profile failed, named in the history", rec.Publication)
	}
	b.waitRecord(rec.ID, "the event", func(r *Record) bool { return r.Webhook != nil && r.Webhook.State == DeliveryDelivered })
	got := rcv.deliveries()
	if len(got) != 1 || got[0].event.Data == nil || !got[0].event.Data.Partial || got[0].event.Type != EventSucceeded {
		t.Fatalf("event %+v", got)
	}
	b.assertClean()
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A replayed pipeline that ends again is an ending of its own: its
// caller, told by webhook only, must hear of it, under a webhook-id its
// deduplication does not take for the first attempt's. Each attempt's
// ending is one event (and its own "attached").
func TestReplayedPipelineEndingAgainSendsItsEvent(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t)
	rcv := newReceiver(t)
	req := b.request(ActionPublishNow, "a.png")
	req.Post.ProfileIDs = []string{"UHJvZmlsZUlkbm9zdWNo"}
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL + "/hooks"}
	rec := b.waitOver(b.publish(req).ID)
	if rec.State != StateFailed {
		t.Fatalf("with an unknown profile: %s", dump(rec))
	}
	delivered := func(r *Record) bool { return r.Webhook != nil && len(r.owedNotices()) == 0 }
	b.waitRecord(rec.ID, "the first failure's event", delivered)
	ctx := context.Background()
	if _, err := b.client.Replay(ctx, rec.ID, Edit{}, "tester"); err != nil {
		t.Fatal(err)
	}
	rec = b.waitOver(rec.ID)
	if rec.State != StateFailed || rec.Replays != 1 {
		t.Fatalf("replayed unchanged: %s", dump(rec))
	}
	rec = b.waitRecord(rec.ID, "the second failure's event", func(r *Record) bool { return delivered(r) && len(r.Webhook.Events) == 2 })
	if _, err := b.client.Replay(ctx, rec.ID, Edit{Post: &PostEdit{ProfileIDs: b.profiles[:1]}}, "tester"); err != nil {
		t.Fatal(err)
	}
	if rec = b.wait(rec.ID); rec.State != StateSucceeded {
		t.Fatalf("replay with a valid profile ended %s", dump(rec))
	}
	rec = b.waitRecord(rec.ID, "the success's event", func(r *Record) bool { return delivered(r) && len(r.Webhook.Events) == 3 })
	waitUntil(t, func() bool { return len(rcv.deliveries()) >= 3 })
	var got []string
	ids := map[string]bool{}
	for _, d := range rcv.deliveries() {
		got = append(got, d.event.Type)
		ids[d.id] = true
		if d.event.Data == nil || !verify(webhookSecret, d) {
			t.Errorf("delivery %s: no data or a bad signature", d.id)
		}
	}
	if want := []string{EventFailed, EventFailed, EventSucceeded}; strings.Join(got, ",") != strings.Join(want, ",") || len(ids) != 3 {
		t.Fatalf("deliveries %v under %d webhook-ids, want %v under 3", got, len(ids), want)
	}
	if first := rcv.deliveries()[0].id; first != noticeID(rec.ID, EventFailed, 0) {
		t.Errorf("the first attempt's event id %s, want %s as it always was", first, noticeID(rec.ID, EventFailed, 0))
	}
}

// A redelivery asked for after the event was given up (the receiver was
// down longer than WEBHOOK_RETRY_FOR, and is fixed) is retried for
// WEBHOOK_RETRY_FOR from the ask, as any delivery is: counted from when
// the event was made, its budget was spent already, and one failed
// attempt (a receiver still starting) gave it up for good.
func TestRedeliveryIsRetriedForItsOwnTime(t *testing.T) {
	t.Parallel()
	timing := testTiming
	timing.WebhookRetryFor = 2 * time.Second
	b := webhookSetup(t, func(c *setupConfig) { c.timing = timing })
	rcv := newReceiver(t, http.StatusInternalServerError)
	req := b.request(ActionDraft, "a.png")
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL}
	rec := b.wait(b.publish(req).ID)
	rec = b.waitRecord(rec.ID, "the webhook to be given up", func(r *Record) bool {
		return r.Webhook != nil && r.Webhook.State == DeliveryFailed
	})
	// The receiver is back, and fails the redelivery's first attempt only.
	rcv.mu.Lock()
	n := len(rcv.got)
	rcv.answers = nil
	for range n + 1 {
		rcv.answers = append(rcv.answers, http.StatusInternalServerError)
	}
	rcv.answers = append(rcv.answers, http.StatusOK)
	rcv.mu.Unlock()
	if _, err := b.client.Redeliver(context.Background(), rec.ID); err != nil {
		t.Fatal(err)
	}
	rec = b.waitRecord(rec.ID, "the redelivery's end", func(r *Record) bool {
		return r.Webhook.State != DeliveryPending
	})
	if rec.Webhook.State != DeliveryDelivered {
		t.Errorf("redelivered event %+v after %d requests; want delivered on its second attempt", rec.Webhook, len(rcv.deliveries()))
	}
	ids := map[string]bool{}
	for _, d := range rcv.deliveries() {
		ids[d.id] = true
	}
	if len(ids) != 1 {
		t.Errorf("the event went out under %d webhook-ids", len(ids))
	}
}

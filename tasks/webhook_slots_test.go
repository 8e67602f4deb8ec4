package tasks

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"
)

// hangingReceiver is a webhook endpoint that never answers while the test
// runs: it takes each delivery and holds it until the sender gives up. It
// counts how many it holds at once.
type hangingReceiver struct {
	srv     *httptest.Server
	release chan struct{}

	mu            sync.Mutex
	holding, peak int
	got, answered int
}

func newHangingReceiver(t *testing.T) *hangingReceiver {
	t.Helper()
	h := &hangingReceiver{release: make(chan struct{})}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.got++
		h.holding++
		h.peak = max(h.peak, h.holding)
		h.mu.Unlock()
		defer func() {
			h.mu.Lock()
			h.holding--
			h.mu.Unlock()
		}()
		select {
		case <-r.Context().Done():
		case <-h.release:
			h.mu.Lock()
			h.answered++
			h.mu.Unlock()
		}
	}))
	// Cleanups run last first: the receiver lets go before the worker
	// stops, so that stopping does not wait on it.
	t.Cleanup(h.srv.Close)
	t.Cleanup(func() { close(h.release) })
	return h
}

func (h *hangingReceiver) stats() (got, holding, peak, answered int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.got, h.holding, h.peak, h.answered
}

// Issue 20, item 2: a receiver that never answers delays only webhooks.
// One worker with 20 task slots runs batches of 120 pipelines, by turns
// with no webhook and with a webhook to a receiver that holds every
// delivery: the batches with the webhook finish within 1.5× the time of
// the others (medians of three each) (with shared slots it took 45×: every delivery
// held a publishing slot for the 10 s of its timeout). While the batch ran, the receiver held at most the worker's
// webhook slots at once, and had answered none of them when the last
// pipeline ended.
func TestHangingReceiverDoesNotStarvePublishing(t *testing.T) {
	t.Parallel()
	const (
		pipelines   = 120
		concurrency = 20
		webhookSlot = 3
	)
	b := webhookSetup(t, func(c *setupConfig) {
		c.concurrency, c.webhookConcurrency = concurrency, webhookSlot
	})
	hang := newHangingReceiver(t)
	batch := func(name string, webhook *WebhookSpec) time.Duration {
		t.Helper()
		start := time.Now()
		ids := make([]string, pipelines)
		for i := range ids {
			req := b.request(ActionPublishNow, "a.png")
			req.Post.Caption = fmt.Sprintf("%s %d", name, i)
			req.Webhook = webhook
			ids[i] = b.publish(req).ID
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, id := range ids {
			rec, err := b.client.Wait(ctx, id, 20*time.Millisecond, nil)
			if err != nil {
				t.Fatalf("%s: pipeline %s did not finish: %v (%s)", name, id, err, dump(rec))
			}
			if rec.State != StateSucceeded {
				t.Fatalf("%s: pipeline %s ended %s", name, id, dump(rec))
			}
		}
		return time.Since(start)
	}
	// Batches with and without the webhook alternate, three of each, and
	// their medians are compared, so that a machine busier during one batch
	// does not decide the comparison.
	// The receiver's peak is read after the first batch with the webhook,
	// before any delivery timed out: later, a retry may arrive while the
	// receiver has yet to notice that the sender gave up the one before.
	var withs, withouts []time.Duration
	var peak int
	for round := range 3 {
		withouts = append(withouts, batch(fmt.Sprintf("no webhook %d", round), nil))
		withs = append(withs, batch(fmt.Sprintf("hanging webhook %d", round), &WebhookSpec{URL: hang.srv.URL + "/hooks"}))
		if round == 0 {
			_, _, peak, _ = hang.stats()
		}
	}
	got, holding, _, answered := hang.stats()
	with, without := median(withs), median(withouts)
	t.Logf("120 pipelines, CONCURRENCY %d: %v with no webhook (median of %v), %v with a receiver that never answers (median of %v; %d deliveries taken, %d held, at most %d at once)",
		concurrency, without.Round(time.Millisecond), withouts, with.Round(time.Millisecond), withs, got, holding, peak)
	if answered != 0 {
		t.Fatalf("the receiver answered %d deliveries: it was meant to hang", answered)
	}
	if got == 0 {
		t.Fatal("no delivery reached the receiver: the test proves nothing")
	}
	if peak > webhookSlot {
		t.Errorf("the receiver held %d deliveries at once; the worker has %d webhook slots", peak, webhookSlot)
	}
	if with > without*3/2 {
		t.Errorf("with a hanging receiver 120 pipelines took %v, more than 1.5× the %v they take with no webhook", with, without)
	}
}

// median is the middle of ds (the upper one of an even count).
func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

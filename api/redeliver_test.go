package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// receiver is a webhook endpoint that records the webhook-id of each
// delivery it took.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids []string
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) received() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.ids...)
}

func TestRedeliverRefusals(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{allowedHosts: []string{"127.0.0.1"}})
	noHook := w.mustPublish(t, validRequest("no webhook"))
	// A webhook is named, but a pending pipeline has no event yet.
	withHook := w.mustPublish(t, `{"media":[{"source":"https://cdn.example.com/a.jpg"}],"post":{"profileIds":["prof_1"],"caption":"x"},"action":"draft","webhook":{"url":"http://127.0.0.1:9/hook"}}`)
	if withHook.Request.Webhook == nil || withHook.Request.Webhook.URL != "http://127.0.0.1:9/hook" {
		t.Fatalf("the record lost its webhook: %+v", withHook.Request.Webhook)
	}
	tests := []struct {
		name   string
		id     string
		status int
		typ    string
	}{
		{"unknown pipeline", "0193a000-0000-7000-8000-000000000000", http.StatusNotFound, typeNotFound},
		{"not a UUID", "nope", http.StatusNotFound, typeNotFound},
		{"no webhook named", noHook.ID, http.StatusConflict, typeNoWebhook},
		{"no event yet", withHook.ID, http.StatusConflict, typeNoWebhook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.keys(t)
			r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + tt.id + "/webhook/redeliver"})
			if r.status != tt.status {
				t.Fatalf("status %d, want %d; %s", r.status, tt.status, r.body)
			}
			p := r.problem(t)
			if p.Type != tt.typ {
				t.Errorf("problem type %q, want %q", p.Type, tt.typ)
			}
			if tt.status == http.StatusConflict && p.PipelineID != tt.id {
				t.Errorf("pipelineId %q, want %q", p.PipelineID, tt.id)
			}
			if after := w.keys(t); len(after) != len(before) {
				t.Errorf("a refused redelivery changed Redis: %v, was %v", after, before)
			}
		})
	}
	if r := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + noHook.ID + "/webhook/redeliver"}); r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "POST" {
		t.Errorf("GET redeliver: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}

// A finished pipeline's event is delivered once by the worker, then again
// on request, under the same webhook-id both times.
func TestRedeliverSendsTheSameEventAgain(t *testing.T) {
	t.Parallel()
	w := newWorkerWorld(t, nil)
	rc := newReceiver(t)
	body := fmt.Sprintf(`{"media":[{"source":"local.png"}],"post":{"profileIds":[%q],"caption":"hooked"},"action":"publishNow","webhook":{"url":%q}}`,
		w.profile, rc.srv.URL+"/hook?sig=secret")
	rec := w.mustPublish(t, body)
	delivered := func(r *tasks.Record) bool { return r.Webhook != nil && r.Webhook.State == tasks.DeliveryDelivered }
	done := w.waitFor(t, rec.ID, "delivered", delivered)
	if done.State != tasks.StateSucceeded {
		t.Fatalf("pipeline ended %s", done.State)
	}
	first := rc.received()
	if len(first) != 1 {
		t.Fatalf("the receiver got %v, want one event", first)
	}

	r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/" + rec.ID + "/webhook/redeliver"})
	if r.status != http.StatusAccepted || r.header.Get("Location") != "/v1/pipelines/"+rec.ID {
		t.Fatalf("redeliver: %d %s", r.status, r.body)
	}
	if got := r.record(t); got.Webhook == nil || got.Webhook.State != tasks.DeliveryPending || got.Webhook.URL != rc.srv.URL+"/hook?redacted" {
		t.Errorf("redeliver answered webhook %+v", got.Webhook)
	}
	deadline := time.Now().Add(15 * time.Second)
	for len(rc.received()) < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := rc.received(); len(got) != 2 || got[0] != got[1] || got[0] == "" {
		t.Fatalf("deliveries %v, want the same webhook-id twice", got)
	}
	w.waitFor(t, rec.ID, "delivered again", delivered)
}

package main

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// A worker SIGKILLed after it sent a pipeline's terminal event and before
// it recorded the delivery sends the event again when its task comes back,
// under the same webhook-id: a receiver deduplicating by it sees each
// event once, and no event ever carries a second id.
func TestWebhookSurvivesAKillBetweenSendAndRecord(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	sb := sandbox.Start(t, sandbox.Options{APIID: "hook-id", APIKey: "hook-id-key", Seed: 5,
		ProcessingDelay: 100 * time.Millisecond, PublishDelay: 100 * time.Millisecond})
	ok, _ := profilesOf(t, sb.Server)
	root := mediaRoot(t, 1)

	var (
		mu     sync.Mutex
		seen   = map[string][]string{} // pipeline id → webhook-ids, in order
		victim atomic.Pointer[process]
		killed = make(chan struct{})
		once   sync.Once
	)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		id := req.Header.Get("webhook-id")
		var pipeline string
		if i := strings.Index(string(body), `"data":{"id":"`); i >= 0 {
			pipeline = string(body[i+len(`"data":{"id":"`):])[:36]
		}
		mu.Lock()
		seen[pipeline] = append(seen[pipeline], id)
		mu.Unlock()
		once.Do(func() {
			// The event is in; the worker dies before it hears so.
			if p := victim.Load(); p != nil {
				_ = p.cmd.Process.Signal(syscall.SIGKILL)
			}
			close(killed)
		})
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)

	secret := "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123"))
	env := append(workerEnv(r.URL, sb, root, "hook-id"),
		"WEBHOOK_URL="+rcv.URL+"/hook", "WEBHOOK_SECRET="+secret, "ALLOWED_SOURCE_HOSTS=127.0.0.1")
	w := startWorker(t, env)
	victim.Store(w)

	client := tasks.NewClient(r.Client)
	defer client.Close()
	var ids []string
	for i := range 3 {
		rec, _, err := client.Publish(context.Background(), tasks.Request{
			Media:  []tasks.MediaSource{{Source: "m0.png"}},
			Post:   &tasks.PostSpec{ProfileIDs: ok[:1], Caption: "hooked " + string(rune('a'+i))},
			Action: tasks.ActionPublishNow,
		})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatalf("no webhook arrived\n%s", w.log.String())
	}
	<-w.exited
	w2 := startWorker(t, env)

	// The killed worker's task comes back after asynq's lease recovery.
	deadline := time.Now().Add(150 * time.Second)
	for {
		delivered := 0
		for _, id := range ids {
			rec, err := client.Get(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Webhook != nil && rec.Webhook.State == tasks.DeliveryDelivered {
				delivered++
			}
		}
		if delivered == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			for _, id := range ids {
				rec, _ := client.Get(context.Background(), id)
				t.Logf("pipeline %s: %s webhook %+v", id, rec.Progress(), rec.Webhook)
			}
			t.Fatalf("%d of %d events delivered\n%s", delivered, len(ids), w2.log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	w2.stop(t)

	mu.Lock()
	defer mu.Unlock()
	resent := 0
	for _, pid := range ids {
		got := seen[pid]
		distinct := map[string]bool{}
		for _, id := range got {
			distinct[id] = true
		}
		if len(distinct) != 1 || !distinct["msg_"+pid+"_"+tasks.EventSucceeded] {
			t.Errorf("pipeline %s: webhook-ids %v; want its one pipeline.succeeded id", pid, got)
		}
		if len(got) > 1 {
			resent++
		}
	}
	// The kill lands while the first event is being answered; others in
	// flight at that moment are sent again too, under their own ids.
	if resent == 0 {
		t.Errorf("no event was sent again after the kill: the test proves nothing (%v)", seen)
	}
	t.Logf("%d of %d events sent again after the kill, each under its one webhook-id", resent, len(ids))
}

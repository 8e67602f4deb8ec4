package tasks

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// I7 (docs/design.md): the API id and key, upload URL signatures and credentials in
// media source URLs never show in logs, errors, task payloads, records as
// shown, or metrics — whatever failed on the way; every workspace's.
func TestSecretsStaySecret(t *testing.T) {
	t.Parallel()
	const sourceToken = "src-token-7f3a9e"
	b := setup(t,
		withFaults(sandbox.FaultPlan{
			"*":               {Error5xx: 0.2, RateLimit: 0.1},
			"PUT {uploadUrl}": {Reset: 0.3, LostReply: 0.2},
			"POST /posts":     {LostReply: 0.5},
		}),
		func(c *setupConfig) {
			c.allowHosts = []string{"127.0.0.1"}
			c.timing.MaxRetry = 12
		},
		withSecondWorkspace)
	img, err := os.ReadFile(filepath.Join(b.root, "a.png"))
	if err != nil {
		t.Fatal(err)
	}
	files := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("token") != sourceToken {
			http.Error(w, "bad token", http.StatusForbidden)
			return
		}
		_, _ = w.Write(img)
	}))
	t.Cleanup(files.Close)
	ok := b.request(ActionPublishNow, "b.png", files.URL+"/img.png?token="+sourceToken)
	ok.Workspace = DefaultWorkspace
	denied := b.request(ActionPublishNow, files.URL+"/img.png?token=wrong-"+sourceToken)
	denied.Workspace = DefaultWorkspace
	second := b.inSecond(b.request(ActionPublishNow, "c.png"))
	recs := []*Record{b.wait(b.publish(ok).ID), b.wait(b.publish(denied).ID), b.wait(b.publish(second).ID)}
	if recs[0].State != StateSucceeded || recs[1].State != StateFailed || recs[2].State != StateSucceeded {
		t.Fatalf("ended %s / %s / %s", dump(recs[0]), dump(recs[1]), dump(recs[2]))
	}
	if got := b.second.sb.Server.Stats().Posts.Created; got != 1 {
		t.Fatalf("the second workspace's sandbox made %d posts, want 1: its pipeline did not go through its client", got)
	}

	secrets := map[string]string{
		"API id":           b.sbOpts.APIID,
		"API key":          b.sbOpts.APIKey,
		"second API id":    b.second.opts.APIID,
		"second API key":   b.second.opts.APIKey,
		"upload signature": "sig=",
		"source token":     sourceToken,
	}
	check := func(where, text string, allow ...string) {
		t.Helper()
		for name, s := range secrets {
			if strings.Contains(text, s) && !slices.Contains(allow, name) {
				i := strings.Index(text, s)
				t.Errorf("%s contains the %s: …%s…", where, name, text[max(0, i-80):min(len(text), i+80)])
			}
		}
	}

	logs := b.logs.String()
	if !strings.Contains(logs, "step failed") {
		t.Fatal("no failure was logged; the test proves nothing")
	}
	check("logs", logs)

	for _, r := range recs {
		shown, _ := b.client.Get(context.Background(), r.ID)
		j, _ := json.Marshal(shown)
		check("record "+r.ID, string(j))
	}

	// Everything in Redis: records, indexes, asynq's task hashes (payloads
	// and last errors), queues, stats.
	ctx := context.Background()
	keys, err := b.redis.Client.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		var text string
		switch typ, _ := b.redis.Client.Type(ctx, k).Result(); typ {
		case "string":
			text, _ = b.redis.Client.Get(ctx, k).Result()
		case "hash":
			h, _ := b.redis.Client.HGetAll(ctx, k).Result()
			j, _ := json.Marshal(h)
			text = string(j)
		case "list":
			l, _ := b.redis.Client.LRange(ctx, k, 0, -1).Result()
			text = strings.Join(l, "\n")
		case "set":
			l, _ := b.redis.Client.SMembers(ctx, k).Result()
			text = strings.Join(l, "\n")
		case "zset":
			l, _ := b.redis.Client.ZRange(ctx, k, 0, -1).Result()
			text = strings.Join(l, "\n")
		}
		var allow []string
		if strings.HasPrefix(k, "mediaflow:{") && strings.Contains(k, "}:p:") {
			// The stored request keeps the source as given: the worker
			// needs it to fetch the file. Every rendering redacts it.
			allow = []string{"source token"}
		}
		check("Redis key "+k, text, allow...)
	}

	rr := httptest.NewRecorder()
	promhttp.HandlerFor(b.metrics.Registry(), promhttp.HandlerOpts{}).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(rr.Body)
	check("metrics", string(body))
}

// A worker with the wrong key gets 401: its workspace is paused (not its
// pipelines failed), and what it records and logs names the endpoint and
// the status, never the key it sent.
func TestWrongCredentialsNeverEcho(t *testing.T) {
	t.Parallel()
	const wrong = "wrong-key-b81d44"
	b := setup(t, func(c *setupConfig) { c.apiKey = wrong })
	id := b.publish(b.request(ActionPublishNow, "a.png")).ID
	var st *WorkspaceStatus
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var err error
		if st, err = b.client.WorkspaceStatusOf(context.Background(), DefaultWorkspace); err != nil {
			t.Fatal(err)
		}
		if st.Paused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workspace is not paused: %+v\n%s", st, b.logs.String())
		}
	}
	if !strings.Contains(st.Why, "401") {
		t.Errorf("paused because %q, want Swonkie's 401", st.Why)
	}
	rec, err := b.client.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State.Terminal() {
		t.Fatalf("the pipeline ended while its workspace is paused: %s", dump(rec))
	}
	j, _ := json.Marshal(rec)
	for _, text := range []string{string(j), st.Why, b.logs.String()} {
		if strings.Contains(text, wrong) || strings.Contains(text, b.sbOpts.APIID) {
			t.Fatalf("credentials leaked: %s", text)
		}
	}
	if u, _ := url.Parse(b.sb.BaseURL); strings.Contains(st.Why, u.Host) {
		t.Errorf("the pause names the API host and path instead of the endpoint: %s", st.Why)
	}
}

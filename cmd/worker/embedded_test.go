package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/tasks"
)

// A newcomer trying -sandbox with no Redis running gets an embedded one
// where REDIS_URL's default points, and a pipeline runs through it. (The
// test moves that address to a free port: 127.0.0.1:6379 may hold a real
// Redis here. It is not parallel, so no other test runs while it changes
// the address.)
func TestSandboxWithoutRedisRunsAnEmbeddedOne(t *testing.T) {
	was := embeddedRedisAddr
	embeddedRedisAddr = freeport.TestAddr(t)
	t.Cleanup(func() { embeddedRedisAddr = was })
	api := freeport.TestAddr(t)
	p := startRun(t, []string{"-sandbox", "-metrics-addr", "off", "-sweep", "off"},
		map[string]string{"API_ADDR": api, "API_TOKENS": testToken, "MEDIA_ROOT": writeSample(t)})

	status, body, _ := apiCall(t, api, http.MethodPost, "/v1/pipelines", testToken, apiTestRequest(t))
	if status != http.StatusAccepted {
		t.Fatalf("publish: %d %s\n%s", status, body, p.errOut.String())
	}
	var rec tasks.Record
	_ = json.Unmarshal(body, &rec)
	// The embedded Redis is where enqueue, in another process, would look.
	rc := redis.NewClient(&redis.Options{Addr: embeddedRedisAddr})
	defer rc.Close()
	c := tasks.NewClient(rc)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if done, err := c.Wait(ctx, rec.ID, 100*time.Millisecond, nil); err != nil || done.State != tasks.StateSucceeded {
		t.Fatalf("the pipeline: %v %+v\n%s", err, done, p.errOut.String())
	}
	p.stop(t)
	if !strings.Contains(p.errOut.String(), "runs an embedded one") {
		t.Errorf("the worker did not say its Redis is embedded:\n%s", p.errOut.String())
	}
}

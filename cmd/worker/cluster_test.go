package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redisserver"
	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// REDIS_URL=redis-cluster://… worker -sandbox publishes pipelines end to
// end: the worker, its store scripts and asynq all run on a 3-master
// cluster, with pipelines enqueued through the same URL.
func TestWorkerOnRedisCluster(t *testing.T) {
	t.Parallel()
	cl, err := redisserver.StartCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Kill)
	root := t.TempDir()
	if err := testmedia.WritePNG(filepath.Join(root, "m.png"), 16, 16, 1); err != nil {
		t.Fatal(err)
	}
	// The worker's in-process sandbox is seeded: the same options give
	// the same profiles here.
	sb, err := sandbox.New(sandboxOptions(false))
	if err != nil {
		t.Fatal(err)
	}
	var profile string
	for _, p := range sb.Profiles() {
		if p.StatusLevel == swonkie.StatusOK {
			profile = p.ID
			break
		}
	}
	w := startWorker(t, []string{"REDIS_URL=" + cl.URL, "MEDIA_ROOT=" + root, "LOG_LEVEL=warn", "SWEEP_SCHEDULE=off"}, "-sandbox")

	rc, err := redisurl.NewClient(cl.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	client := tasks.NewClient(rc)
	defer client.Close()
	ctx := context.Background()
	var ids []string
	for i := range 3 {
		rec, _, err := client.Publish(ctx, tasks.Request{
			Post:   &tasks.PostSpec{ProfileIDs: []string{profile}, Caption: fmt.Sprintf("cluster %d", i)},
			Media:  []tasks.MediaSource{{Source: "m.png"}},
			Action: tasks.ActionPublishNow,
		})
		if err != nil {
			t.Fatalf("publish on %s: %v", cl.URL, err)
		}
		ids = append(ids, rec.ID)
	}
	deadline := time.Now().Add(90 * time.Second)
	for _, id := range ids {
		for {
			rec, err := client.Get(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if rec.State.Terminal() {
				if rec.State != tasks.StateSucceeded {
					t.Errorf("pipeline %s ended %s (error %+v)", id, rec.State, rec.Error)
				}
				break
			}
			w.alive(t)
			if time.Now().After(deadline) {
				t.Fatalf("pipeline %s still %s / %s after 90 s\nworker log:\n%s", id, rec.State, rec.Step, w.log.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	w.stop(t)
	// A worker on one node of a cluster "works" while it logs MOVED;
	// neither redirection nor cross-slot errors may reach the log.
	for _, bad := range []string{"MOVED", "CROSSSLOT", "CLUSTERDOWN"} {
		if strings.Contains(w.log.String(), bad) {
			t.Errorf("worker log holds %s", bad)
		}
	}
	if t.Failed() {
		t.Logf("worker log:\n%s", w.log.String())
	}
}

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// Workspace b's key is revoked mid-run (its sandbox answers 401 to it):
// no b pipeline fails, mediaflow_workspace_paused{workspace="b"} is 1,
// and workspace a goes on. Once the key file holds the new key and the
// worker gets SIGHUP, every b pipeline succeeds by itself.
func TestRevokedKeyPausesTheWorkspaceUntilReload(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	opts := func(id, key string, seed int64) sandbox.Options {
		return sandbox.Options{APIID: id, APIKey: key, Seed: seed,
			ProcessingDelay: 800 * time.Millisecond, PublishDelay: 300 * time.Millisecond}
	}
	sbs, err := sandbox.NewWorkspaces(opts("ws-a-id", "ws-a-key-0001", 31), opts("ws-b-id", "ws-b-key-0001", 32))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sbs)
	t.Cleanup(srv.Close)
	sbA, sbB := sbs.Server("ws-a-id"), sbs.Server("ws-b-id")

	dir := t.TempDir()
	bKey := filepath.Join(dir, "b.key")
	writeFile(t, bKey, "ws-b-key-0001\n")
	file := filepath.Join(dir, "workspaces.json")
	writeFile(t, file, `{"workspaces": [
	  {"name": "a", "apiId": "ws-a-id", "apiKeyEnv": "A_SWONKIE_KEY"},
	  {"name": "b", "apiId": "ws-b-id", "apiKeyFile": "`+bKey+`"}]}`)
	metricsAddr := freeport.TestAddr(t)
	w := startWorker(t, []string{
		"REDIS_URL=" + r.URL, "SWONKIE_BASE_URL=" + srv.URL + "/v2", "WORKSPACES_FILE=" + file, "A_SWONKIE_KEY=ws-a-key-0001",
		"MEDIA_ROOT=" + mediaRoot(t, 1), "LOG_LEVEL=warn", "CONCURRENCY=8", "SWONKIE_RATE_LIMIT=200", "SWONKIE_RATE_BURST=50",
		"METRICS_ADDR=" + metricsAddr,
	})
	client := tasks.NewClient(r.Client)
	defer client.Close()

	okA, _ := profilesOf(t, sbA)
	okB, _ := profilesOf(t, sbB)
	publish := func(ws string, profile string, i int) string {
		t.Helper()
		req := tasks.Request{Workspace: ws, Key: fmt.Sprintf("%s-%s-%d", t.Name(), ws, i),
			Media:  []tasks.MediaSource{{Source: "m0.png"}},
			Post:   &tasks.PostSpec{ProfileIDs: []string{profile}, Caption: fmt.Sprintf("%s %d", ws, i)},
			Action: tasks.ActionPublishNow}
		deadline := time.Now().Add(30 * time.Second)
		for {
			rec, _, err := client.Publish(context.Background(), req)
			var unknown *tasks.WorkspaceError
			switch {
			case err == nil:
				return rec.ID
			case errors.As(err, &unknown) && time.Now().Before(deadline):
				// The worker has not recorded its workspaces yet.
				w.alive(t)
				time.Sleep(100 * time.Millisecond)
			default:
				t.Fatalf("publish for %s: %v", ws, err)
			}
		}
	}
	var idsA, idsB []string
	for i := range 4 {
		idsB = append(idsB, publish("b", okB[0], i))
	}
	// Mid-run: once a b pipeline is under way, its key is revoked.
	waitFor(t, w, "a pipeline of b running", func() bool {
		for _, id := range idsB {
			if rec, err := client.Get(context.Background(), id); err == nil && rec.State == tasks.StateRunning {
				return true
			}
		}
		return false
	})
	sbB.SetAPIKey("ws-b-key-0002")
	for i := range 4 {
		idsB = append(idsB, publish("b", okB[0], 4+i))
		idsA = append(idsA, publish("a", okA[0], i))
	}
	waitFor(t, w, `mediaflow_workspace_paused{workspace="b"} 1`, func() bool { return pausedGauge(t, metricsAddr, "b") == 1 })
	if v := pausedGauge(t, metricsAddr, "a"); v != 0 {
		t.Errorf(`mediaflow_workspace_paused{workspace="a"} = %v`, v)
	}
	waitFor(t, w, "a's pipelines succeeded", func() bool { return allIn(t, client, idsA, tasks.StateSucceeded) })
	// b waits: none fails while paused.
	time.Sleep(6 * time.Second)
	for _, id := range idsB {
		rec, err := client.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State == tasks.StateFailed || rec.State == tasks.StateCancelled {
			t.Fatalf("b's pipeline %s ended %s (%+v) while its workspace was paused", id, rec.State, rec.Error)
		}
	}
	if allIn(t, client, idsB, tasks.StateSucceeded) {
		t.Fatal("every b pipeline succeeded although its key was revoked: the test proves nothing")
	}
	st, err := client.WorkspaceStatusOf(context.Background(), "b")
	if err != nil || !st.Paused || !strings.Contains(st.Why, "401") {
		t.Errorf("b's status: %+v, %v", st, err)
	}

	// The key is fixed in its file, and the worker told to reload it.
	writeFile(t, bKey, "ws-b-key-0002\n")
	if err := w.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, w, "b's pipelines succeeded after the reload", func() bool { return allIn(t, client, idsB, tasks.StateSucceeded) })
	waitFor(t, w, `mediaflow_workspace_paused{workspace="b"} 0`, func() bool { return pausedGauge(t, metricsAddr, "b") == 0 })
	for name, sb := range map[string]*sandbox.Server{"a": sbA, "b": sbB} {
		if d := sb.Stats().Posts.DuplicatePosts(); d != 0 {
			t.Errorf("workspace %s: %d duplicate posts", name, d)
		}
	}
	if got := sbA.Stats().Posts.Published; got != len(idsA) {
		t.Errorf("workspace a published %d posts, want %d", got, len(idsA))
	}
	if got := sbB.Stats().Posts.Published; got != len(idsB) {
		t.Errorf("workspace b published %d posts, want %d", got, len(idsB))
	}
	w.stop(t)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitFor polls cond for up to two minutes, failing with the worker's log.
func waitFor(t *testing.T, w *process, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		w.alive(t)
		if time.Now().After(deadline) {
			t.Fatalf("waited two minutes for %s\nworker log:\n%s", what, w.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func allIn(t *testing.T, client *tasks.Client, ids []string, state tasks.State) bool {
	t.Helper()
	for _, id := range ids {
		rec, err := client.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != state {
			return false
		}
	}
	return true
}

// pausedGauge scrapes mediaflow_workspace_paused for the workspace; -1
// when the worker does not export it.
func pausedGauge(t *testing.T, addr, ws string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	prefix := `mediaflow_workspace_paused{workspace="` + ws + `"} `
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), prefix); ok {
			return parseSample(t, sc.Text(), v)
		}
	}
	return -1
}

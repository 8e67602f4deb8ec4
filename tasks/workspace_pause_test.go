package tasks

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// A workspace whose key Swonkie refuses is paused, not failed: its
// pipelines wait without spending a retry, mediaflow_workspace_paused is
// 1, the other workspace goes on; a reload with the right key resumes it
// by itself. A pause by hand holds a workspace's pipelines until resumed,
// and a reload does not end it.
func TestRefusedKeyPausesTheWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t, withSecondWorkspace)
	ctx := context.Background()
	const rotated = "second-rotated-key-55e1c0"
	b.second.sb.Server.SetAPIKey(rotated) // the old key is revoked: 401

	var waiting []string
	for range 3 {
		waiting = append(waiting, b.publish(b.inSecond(b.request(ActionPublishNow, "a.png"))).ID)
	}
	first := b.request(ActionPublishNow, "b.png")
	first.Workspace = DefaultWorkspace
	if rec := b.wait(b.publish(first).ID); rec.State != StateSucceeded {
		t.Fatalf("the default workspace's pipeline ended %s", dump(rec))
	}
	deadline := time.Now().Add(30 * time.Second)
	for b.metricValue("mediaflow_workspace_paused", map[string]string{"workspace": secondName}) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("mediaflow_workspace_paused{workspace=%q} never became 1\n%s", secondName, b.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if v := b.metricValue("mediaflow_workspace_paused", map[string]string{"workspace": DefaultWorkspace}); v != 0 {
		t.Errorf("the default workspace is shown paused (%v)", v)
	}
	st, err := b.client.WorkspaceStatusOf(ctx, secondName)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Paused || st.ByHand || !strings.Contains(st.Why, "401") || strings.Contains(st.Why, b.second.opts.APIKey) {
		t.Errorf("status of the paused workspace: %+v", st)
	}
	// They wait: a few of their looks later none failed or spent a retry.
	time.Sleep(2 * pauseWait)
	for _, id := range waiting {
		rec, err := b.client.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State.Terminal() || rec.Attempts != 0 {
			t.Errorf("pipeline of the paused workspace: %s, %d failed attempts; want it waiting", dump(rec), rec.Attempts)
		}
	}

	// The file is fixed and reloaded: the workspace goes on by itself.
	fixed, err := swonkie.New(swonkie.Config{BaseURL: b.second.sb.BaseURL, APIID: b.second.opts.APIID, APIKey: rotated, RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.worker.SetWorkspaces(ctx, map[string]*swonkie.Client{DefaultWorkspace: b.api, secondName: fixed}); err != nil {
		t.Fatal(err)
	}
	for _, id := range waiting {
		if rec := b.wait(id); rec.State != StateSucceeded {
			t.Errorf("after the reload: %s", dump(rec))
		}
	}
	if v := b.metricValue("mediaflow_workspace_paused", map[string]string{"workspace": secondName}); v != 0 {
		t.Errorf("mediaflow_workspace_paused{workspace=%q} = %v after the reload", secondName, v)
	}

	// By hand: the default workspace's pipeline waits through a reload,
	// and goes on once resumed.
	if _, err := b.client.PauseWorkspace(ctx, DefaultWorkspace, "maintenance"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * pauseRefresh)
	held := b.request(ActionPublishNow, "c.png")
	held.Workspace = DefaultWorkspace
	id := b.publish(held).ID
	if err := b.worker.SetWorkspaces(ctx, map[string]*swonkie.Client{DefaultWorkspace: b.api, secondName: fixed}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pauseWait)
	if rec, _ := b.client.Get(ctx, id); rec.State != StatePending {
		t.Errorf("a pipeline of a workspace paused by hand: %s, want it pending", dump(rec))
	}
	if st, _ := b.client.WorkspaceStatusOf(ctx, DefaultWorkspace); !st.Paused || !st.ByHand || st.Why != "maintenance" {
		t.Errorf("paused by hand: %+v", st)
	}
	if _, err := b.client.ResumeWorkspace(ctx, DefaultWorkspace); err != nil {
		t.Fatal(err)
	}
	if rec := b.wait(id); rec.State != StateSucceeded {
		t.Errorf("after the resume: %s", dump(rec))
	}
	if _, err := b.client.PauseWorkspace(ctx, "nope", ""); err == nil {
		t.Error("pausing an unknown workspace succeeded")
	}
}

// A workspace removed by a reload is no longer served: its pipelines
// wait, none fails, and they go on once a reload brings it back.
func TestRemovedWorkspaceWaitsForItsReturn(t *testing.T) {
	t.Parallel()
	b := setup(t, withSecondWorkspace)
	ctx := context.Background()
	id := b.publish(b.inSecond(b.request(ActionPublishNow, "a.png"))).ID
	if err := b.worker.SetWorkspaces(ctx, map[string]*swonkie.Client{DefaultWorkspace: b.api}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	// Past the client's one second of caching the names.
	if names, _ := b.client.Workspaces(ctx); len(names) != 1 {
		t.Errorf("the fleet still offers %v after the reload", names)
	}
	if rec, _ := b.client.Get(ctx, id); rec.State.Terminal() || rec.Attempts != 0 {
		t.Fatalf("a pipeline of the removed workspace: %s, %d failed attempts; want it waiting", dump(rec), rec.Attempts)
	}
	if err := b.worker.SetWorkspaces(ctx, b.workspaces()); err != nil {
		t.Fatal(err)
	}
	if rec := b.wait(id); rec.State != StateSucceeded {
		t.Errorf("after the workspace came back: %s", dump(rec))
	}
}

// A cancel of a pipeline that made nothing yet needs no call to Swonkie:
// it ends cancelled (its webhook sent) while its workspace is paused,
// rather than wait, "cancel requested", for a resume that may never
// come. Nothing is made afterwards.
func TestCancelWithNothingToUndoEndsWhileTheWorkspaceIsPaused(t *testing.T) {
	t.Parallel()
	b := webhookSetup(t)
	rcv := newReceiver(t)
	ctx := context.Background()
	if _, err := b.client.PauseWorkspace(ctx, DefaultWorkspace, "on hold"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * pauseRefresh)
	req := b.request(ActionPublishNow, "a.png")
	req.Workspace = DefaultWorkspace
	req.Webhook = &WebhookSpec{URL: rcv.srv.URL + "/hooks"}
	id := b.publish(req).ID
	time.Sleep(500 * time.Millisecond) // its first run waits for the pause
	if _, err := b.client.Cancel(ctx, id); err != nil {
		t.Fatal(err)
	}
	rec := b.waitRecord(id, "the cancel's end", func(r *Record) bool { return r.State.Terminal() })
	if rec.State != StateCancelled || rec.Cleanup != CleanupDone {
		t.Fatalf("cancelled while its workspace is paused: %s", dump(rec))
	}
	b.waitRecord(id, "the cancelled event", func(r *Record) bool { return len(r.owedNotices()) == 0 })
	if got := rcv.deliveries(); len(got) != 1 || got[0].event.Type != EventCancelled {
		t.Errorf("deliveries %+v, want one pipeline.cancelled", got)
	}
	if _, err := b.client.ResumeWorkspace(ctx, DefaultWorkspace); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pauseWait + time.Second) // the upload's wait ends, and finds the pipeline over
	if st := b.sb.Server.Stats(); st.Media.Created != 0 || st.Posts.Created != 0 {
		t.Errorf("%d media and %d posts made for a cancelled pipeline", st.Media.Created, st.Posts.Created)
	}
}

// A call made on the old key before a reload whose refusal comes back
// after it (a step that was running keeps the client it started with)
// must not pause the workspace again: the reload already resumed it, no
// further reload comes, and its pipelines would wait forever on a key
// that was fixed. The refusal is of a key no longer served; the run waits
// and goes on with the new one.
func TestRefusalOfTheOldKeyAfterAReloadDoesNotPauseAgain(t *testing.T) {
	t.Parallel()
	b := setup(t, withSecondWorkspace)
	ctx := context.Background()
	const rotated = "second-rotated-key-9f03aa"
	b.second.sb.Server.SetAPIKey(rotated) // the old key is revoked: 401

	// The old key's calls are held until the reload is done.
	held := make(chan struct{})
	release := make(chan struct{})
	var once sync.Once
	srv := httptest.NewServer(&interposer{sb: b.second.sb, before: func(w http.ResponseWriter, r *http.Request) bool {
		once.Do(func() { close(held) })
		<-release
		return false
	}})
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	stale, err := swonkie.New(swonkie.Config{BaseURL: srv.URL + "/v2", APIID: b.second.opts.APIID, APIKey: b.second.opts.APIKey, RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.worker.SetWorkspaces(ctx, map[string]*swonkie.Client{DefaultWorkspace: b.api, secondName: stale}); err != nil {
		t.Fatal(err)
	}
	id := b.publish(b.inSecond(b.request(ActionPublishNow, "a.png"))).ID
	select {
	case <-held:
	case <-time.After(30 * time.Second):
		t.Fatalf("no call on the old key\n%s", b.logs.String())
	}
	fixed, err := swonkie.New(swonkie.Config{BaseURL: b.second.sb.BaseURL, APIID: b.second.opts.APIID, APIKey: rotated, RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.worker.SetWorkspaces(ctx, map[string]*swonkie.Client{DefaultWorkspace: b.api, secondName: fixed}); err != nil {
		t.Fatal(err)
	}
	close(release) // the old key's 401 comes back now

	if rec := b.wait(id); rec.State != StateSucceeded {
		t.Errorf("after the reload fixed the key: %s", dump(rec))
	}
	if st, _ := b.client.WorkspaceStatusOf(ctx, secondName); st.Paused {
		t.Errorf("the workspace is paused after the reload fixed its key: %+v", st)
	}
}

// A key that can only change with a restart (apiKeyEnv, or
// SWONKIE_API_KEY without a workspaces file, which has no reload) is
// fixed by restarting the workers: a worker that starts resumes what a
// refusal paused, as a reload does, or the pause (kept in Redis, with no
// expiry) holds the workspace's pipelines for good with the key fixed. A
// key still refused pauses it again; a pause by hand stays.
func TestRestartWithAFixedKeyResumesTheWorkspace(t *testing.T) {
	t.Parallel()
	b := setup(t, withSecondWorkspace)
	ctx := context.Background()
	const rotated = "second-rotated-key-41c7de"
	b.second.sb.Server.SetAPIKey(rotated) // the old key is revoked: 401
	id := b.publish(b.inSecond(b.request(ActionPublishNow, "a.png"))).ID
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := b.client.WorkspaceStatusOf(ctx, secondName)
		if err != nil {
			t.Fatal(err)
		}
		if st.Paused {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the workspace was never paused\n%s", b.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.worker.Shutdown()

	// Restarted with the key fixed.
	fixed, err := swonkie.New(swonkie.Config{BaseURL: b.second.sb.BaseURL, APIID: b.second.opts.APIID, APIKey: rotated, RateLimit: 1000, Burst: 100})
	if err != nil {
		t.Fatal(err)
	}
	b.second.api = fixed
	b.worker = b.startWorker(setupConfig{concurrency: 4, sweep: "off", timing: b.timing})
	if rec := b.wait(id); rec.State != StateSucceeded {
		t.Errorf("after a restart with the key fixed: %s", dump(rec))
	}
}

package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/tasks"
)

// A replay the client refuses as invalid (a scheduled pipeline whose
// publishAt has passed since it was cancelled) is told on the page as a
// refusal, not as an internal error (500).
func TestReplayRefusedAsInvalidIsToldNotA500(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{worker: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sources, err := source.New(source.Config{Root: w.root, AllowedHosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// A client with no minimum lead, to schedule two seconds ahead.
	soon := tasks.NewClient(w.redis.Client, tasks.WithSources(sources), tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Millisecond}))
	t.Cleanup(func() { _ = soon.Close() })
	at := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	rec, _, err := soon.Publish(ctx, tasks.Request{Key: "passed-1", Media: []tasks.MediaSource{{Source: "pic.png"}},
		Post: &tasks.PostSpec{ProfileIDs: []string{w.profile}, Caption: "soon", PublishAt: &at}, Action: tasks.ActionSchedule})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := soon.Cancel(ctx, rec.ID); err != nil {
		t.Fatal(err)
	}
	for {
		if rec, err = w.client.Get(ctx, rec.ID); err != nil {
			t.Fatal(err)
		}
		if rec.State == tasks.StateCancelled && rec.Cleanup != tasks.CleanupPending {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the cancel did not end: %+v", rec)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(time.Until(at) + 100*time.Millisecond)
	b := w.browser(t)
	b.mustLogin(tokenA)
	csrf := b.csrf("/ui/")
	a := b.do(http.MethodPost, "/ui/pipelines/"+rec.ID+"/replay", url.Values{"csrf": {csrf}}, nil)
	if a.status != http.StatusSeeOther || a.header.Get("Location") != "/ui/pipelines/"+rec.ID+"?notice=replay-invalid" {
		t.Fatalf("a replay whose publishAt passed: %d %s\n%s", a.status, a.header.Get("Location"), a.body)
	}
	if page := b.get(a.header.Get("Location")); !strings.Contains(page.body, "cannot run again as it was asked") {
		t.Errorf("the page does not say why the replay was refused:\n%s", page.body)
	}
	if rec, _ = w.client.Get(ctx, rec.ID); rec.State != tasks.StateCancelled {
		t.Errorf("after the refused replay: %s", rec.State)
	}
}

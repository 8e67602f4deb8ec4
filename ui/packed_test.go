package ui

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// A finished pipeline that owes nothing is stored packed (tasks'
// encoding.go; the key layout is internal/rdb/doc.go's): the list and its
// page still show it, history and post included.
func TestPackedRecordShowsOnThePage(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{worker: true})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rec, err := w.client.Wait(ctx, w.publish(t, "packed-1", tasks.ActionPublishNow, w.profile).ID, 20*time.Millisecond, nil)
	if err != nil || rec.State != tasks.StateSucceeded {
		t.Fatalf("pipeline ended %v (%v)", rec, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		keys, _, err := w.redis.Client.Scan(ctx, 0, "mediaflow:{mf*}:c:"+rec.ID, 1000).Result()
		if err != nil {
			t.Fatal(err)
		}
		parts, _, err := w.redis.Client.Scan(ctx, 0, "mediaflow:{mf*}:p:"+rec.ID, 1000).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 1 && len(parts) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the record was not packed: packed keys %v, record keys %v", keys, parts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b := w.browser(t)
	b.mustLogin(tokenA)
	for _, path := range []string{"/ui/", "/ui/?state=succeeded", "/ui/pipelines/" + rec.ID} {
		page := b.get(path)
		if page.status != http.StatusOK {
			t.Fatalf("%s: %d", path, page.status)
		}
		for _, want := range []string{rec.ID, "packed-1", "succeeded"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("%s lacks %q", path, want)
			}
		}
	}
	detail := b.get("/ui/pipelines/" + rec.ID).body
	for _, want := range []string{rec.PostID, "accepted 2 media", "is published", rec.Media[0].MediaID} {
		// The page escapes a "+" of the ids.
		if !strings.Contains(detail, strings.ReplaceAll(want, "+", "&#43;")) {
			t.Errorf("the packed pipeline's page lacks %q", want)
		}
	}
}

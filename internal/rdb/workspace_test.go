package rdb_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/internal/redistest"
)

// A label name's claim and a post's lock: one holder at a time, released
// only by it, each name or post apart, expiring in Redis.
func TestWorkspaceLocksHaveOneHolder(t *testing.T) {
	t.Parallel()
	type lockFuncs struct {
		lock   func(w *rdb.Workspace, ctx context.Context, what, holder string, ttl time.Duration) (bool, error)
		unlock func(w *rdb.Workspace, ctx context.Context, what, holder string) error
	}
	for _, tc := range []struct {
		name          string
		what, another string
		lockFuncs
	}{
		{"label name", "Summer: 2026", "Winter", lockFuncs{(*rdb.Workspace).ClaimLabelName, (*rdb.Workspace).ReleaseLabelName}},
		{"post", "UG9zdElk/a+b==", "UG9zdElk/c+d==", lockFuncs{(*rdb.Workspace).LockPost, (*rdb.Workspace).UnlockPost}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			r := redistest.New(t)
			w := rdb.NewWorkspace(r.Client, "0123abcd")

			// Twenty at once: one wins.
			var mu sync.Mutex
			var winners []string
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Go(func() {
					holder := fmt.Sprint("run-", i)
					ok, err := tc.lock(w, ctx, tc.what, holder, time.Minute)
					if err != nil {
						t.Error(err)
					}
					if ok {
						mu.Lock()
						winners = append(winners, holder)
						mu.Unlock()
					}
				})
			}
			wg.Wait()
			if len(winners) != 1 {
				t.Fatalf("%d holders at once: %v", len(winners), winners)
			}
			// Only the holder releases; another is free meanwhile.
			if err := tc.unlock(w, ctx, tc.what, "someone-else"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := tc.lock(w, ctx, tc.what, "late", time.Minute); ok {
				t.Fatal("a release by a non-holder freed the lock")
			}
			if ok, _ := tc.lock(w, ctx, tc.another, "late", time.Minute); !ok {
				t.Fatal("a lock on one held another")
			}
			if err := tc.unlock(w, ctx, tc.what, winners[0]); err != nil {
				t.Fatal(err)
			}
			if ok, _ := tc.lock(w, ctx, tc.what, "late", 1500*time.Millisecond); !ok {
				t.Fatal("the holder's release did not free the lock")
			}
			// The lease expires in Redis.
			keys, err := r.Client.Keys(ctx, "mediaflow:ws:*:lock").Result()
			if err != nil || len(keys) != 2 {
				t.Fatalf("lock keys %v, %v", keys, err)
			}
			for _, k := range keys {
				if ttl := r.Client.PTTL(ctx, k).Val(); ttl <= 0 || ttl > time.Minute {
					t.Fatalf("lock %s lives %v", k, ttl)
				}
			}
		})
	}
}

func TestLabelIDsAndPostOwnersPerWorkspace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r := redistest.New(t)
	a := rdb.NewWorkspace(r.Client, "ws-a")
	same := rdb.NewWorkspace(r.Client, "ws-a")
	b := rdb.NewWorkspace(r.Client, "ws-b")

	if id, err := a.LabelID(ctx, "brand"); err != nil || id != "" {
		t.Fatalf("unknown name: %q, %v", id, err)
	}
	if err := a.RememberLabel(ctx, "brand", "TGFiZWw=", time.Hour); err != nil {
		t.Fatal(err)
	}
	if id, _ := same.LabelID(ctx, "brand"); id != "TGFiZWw=" {
		t.Fatalf("the same workspace does not see its label: %q", id)
	}
	if id, _ := b.LabelID(ctx, "brand"); id != "" {
		t.Fatalf("another workspace sees the label: %q", id)
	}
	if id, _ := a.LabelID(ctx, "Brand"); id != "" {
		t.Fatalf("names are matched exactly, got %q for another case", id)
	}
	if err := a.ForgetLabel(ctx, "brand"); err != nil {
		t.Fatal(err)
	}
	if id, _ := a.LabelID(ctx, "brand"); id != "" {
		t.Fatalf("forgotten label still there: %q", id)
	}

	if owner, err := a.PostOwner(ctx, "UG9zdA/x+=="); err != nil || owner != "" {
		t.Fatalf("owner of an unclaimed post: %q, %v", owner, err)
	}
	if owner, err := a.ClaimPost(ctx, "UG9zdA/x+==", "pipeline-1", time.Hour); err != nil || owner != "pipeline-1" {
		t.Fatalf("first claim: %q, %v", owner, err)
	}
	if owner, _ := a.ClaimPost(ctx, "UG9zdA/x+==", "pipeline-2", time.Hour); owner != "pipeline-1" {
		t.Fatalf("second claim took the post: %q", owner)
	}
	if owner, _ := a.ClaimPost(ctx, "UG9zdA/x+==", "pipeline-1", time.Hour); owner != "pipeline-1" {
		t.Fatalf("the owner's claim again: %q", owner)
	}
	if owner, _ := b.PostOwner(ctx, "UG9zdA/x+=="); owner != "" {
		t.Fatalf("another workspace sees the owner: %q", owner)
	}
	keys := r.Client.Keys(ctx, "mediaflow:ws:*:post:*").Val()
	if len(keys) != 1 {
		t.Fatalf("post owner keys %v", keys)
	}
	if ttl := r.Client.PTTL(ctx, keys[0]).Val(); ttl <= 0 || ttl > time.Hour {
		t.Fatalf("post owner lives %v", ttl)
	}
	// Label names are hashed: any character may be in one.
	for _, k := range r.Client.Keys(ctx, "mediaflow:ws:*").Val() {
		if strings.Contains(k, "brand") {
			t.Fatalf("key %s spells a label name", k)
		}
	}
}

package tasks

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A retry under a known key answers its pipeline whatever validating it
// again says: neither a publishAt that has come within the minimum lead
// since the first try nor a local file moved away since refuses it. A
// different request under the key, and a new key, are still judged.
func TestIdempotentRetryIsAnsweredEvenIfNowInvalid(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	now := time.Now()
	c := NewClient(b.redis.Client, WithTiming(DefaultTiming), WithSources(b.sources), WithoutPreflight())
	t.Cleanup(func() { _ = c.Close() })
	c.store.now = func() time.Time { return now }

	if err := os.WriteFile(filepath.Join(b.root, "moved.png"), mustRead(t, filepath.Join(b.root, "a.png")), 0o644); err != nil {
		t.Fatal(err)
	}
	req := b.request(ActionSchedule, "moved.png")
	at := now.Add(90 * time.Second)
	req.Post.PublishAt = &at
	req.Key = "retry-after-timeout"
	first, created, err := c.Publish(ctx, req)
	if err != nil || !created {
		t.Fatalf("first publish: created=%v err=%v", created, err)
	}

	// 45 s later publishAt is 45 s away, under the one-minute lead, and
	// the file is gone.
	now = now.Add(45 * time.Second)
	if err := os.Remove(filepath.Join(b.root, "moved.png")); err != nil {
		t.Fatal(err)
	}
	again, created, err := c.Publish(ctx, req)
	if err != nil || created || again.ID != first.ID {
		t.Fatalf("retry: id %v (want %s) created=%v err=%v", again, first.ID, created, err)
	}

	// A different request under the key is told what is wrong with it;
	// once valid, that the key is taken.
	var invalid *ValidationError
	other := req
	other.Post = &PostSpec{ProfileIDs: b.profiles[:1], Caption: "something else", PublishAt: &at}
	if _, _, err := c.Publish(ctx, other); !errors.As(err, &invalid) {
		t.Fatalf("same key, different invalid request: %v, want a validation error", err)
	}
	later := at.Add(time.Hour)
	other.Post.PublishAt = &later
	other.Media = []MediaSource{{Source: "a.png"}}
	if rec, _, err := c.Publish(ctx, other); !errors.Is(err, ErrKeyReused) || rec == nil || rec.ID != first.ID {
		t.Fatalf("same key, different valid request: %v, %v; want ErrKeyReused naming %s", rec, err, first.ID)
	}
	fresh := req
	fresh.Key = "a-new-key"
	if _, _, err := c.Publish(ctx, fresh); !errors.As(err, &invalid) {
		t.Fatalf("a new key with the same request: %v, want a validation error", err)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A retry under a known key answers the pipeline as Client.Get shows it,
// its history included, whatever form its record is in: a record a
// worker is on (in parts) came back from the create without its history,
// so the retry's answer showed a pipeline with no events.
func TestIdempotentRetryAnswersThePipelineWithItsHistory(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	ctx := context.Background()
	req := b.request(ActionPublishNow, "a.png")
	req.Key = "retry-while-running"
	first, created, err := b.client.Publish(ctx, req)
	if err != nil || !created {
		t.Fatalf("first publish: created=%v err=%v", created, err)
	}
	// A worker's first write lays the record out in parts.
	rec, err := b.client.store.get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.client.store.update(ctx, rec, func(r *Record) error {
		r.State = StateRunning
		r.note(time.Now(), StepUpload, nil, "ok", "started")
		return nil
	}); err != nil || rec.packed {
		t.Fatalf("write: %v (packed %v); want the record in parts", err, rec.packed)
	}
	again, created, err := b.client.Publish(ctx, req)
	if err != nil || created {
		t.Fatalf("retry: created=%v err=%v", created, err)
	}
	shown, err := b.client.Get(ctx, first.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.History) != len(shown.History) || len(shown.History) != 2 {
		t.Fatalf("the retry answered %d events, Get shows %d; want the same 2", len(again.History), len(shown.History))
	}
}

package rdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClaimSweep claims a sweep slot for holder; false means another worker
// holds it. The claim outlives the slot so a late duplicate still loses.
func (r *RDB) ClaimSweep(ctx context.Context, slot, holder string, ttl time.Duration) (bool, error) {
	ok, err := r.c.SetNX(ctx, sweepSlotKey(slot), holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("claim sweep slot %s: %w", slot, err)
	}
	return ok, nil
}

// SweepHolder returns who claimed slot, or "".
func (r *RDB) SweepHolder(ctx context.Context, slot string) (string, error) {
	v, err := r.c.Get(ctx, sweepSlotKey(slot)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// RecordSweep keeps the JSON result of a sweep among the last keep ones.
func (r *RDB) RecordSweep(ctx context.Context, result []byte, keep int64) error {
	_, err := r.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, sweepsKey, result)
		p.LTrim(ctx, sweepsKey, 0, keep-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record sweep result: %w", err)
	}
	return nil
}

// Sweeps returns the recorded sweep results, newest first.
func (r *RDB) Sweeps(ctx context.Context) ([]string, error) {
	return r.c.LRange(ctx, sweepsKey, 0, -1).Result()
}

// PublishCancel tells every worker that pipeline id was cancelled.
func (r *RDB) PublishCancel(ctx context.Context, id string) error {
	if err := r.c.Publish(ctx, CancelChannel, id).Err(); err != nil {
		return fmt.Errorf("announce the cancel of pipeline %s: %w", id, err)
	}
	return nil
}

// SubscribeCancels listens to the cancels PublishCancel announces.
func (r *RDB) SubscribeCancels(ctx context.Context) *redis.PubSub {
	return r.c.Subscribe(ctx, CancelChannel)
}

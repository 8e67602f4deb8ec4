package rdb

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The layout before shards kept each record as one JSON document in
// mediaflow:{<id>}:pipeline (fields v and doc) and its index entries in
// unsharded sorted sets (mediaflow:pipelines, :<state>, :due, :cleanup).
// Package tasks converts such records; these calls read and remove them.

// LegacyIDs returns up to limit ids of records still in the old layout.
func (r *RDB) LegacyIDs(ctx context.Context, limit int) ([]string, error) {
	ids, err := r.c.ZRange(ctx, legacyAllKey, 0, int64(limit)-1).Result()
	if err != nil {
		return nil, fmt.Errorf("read the old record index: %w", err)
	}
	return ids, nil
}

// LegacyGet returns the old-layout document of id, or ErrNotFound.
func (r *RDB) LegacyGet(ctx context.Context, id string) ([]byte, error) {
	doc, err := r.c.HGet(ctx, legacyRecordKey(id), "doc").Result()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read old pipeline record %s: %w", id, err)
	}
	return []byte(doc), nil
}

// LegacyForget removes the old-layout record id and its index entries
// (one key at a time, so it runs on a cluster too).
func (r *RDB) LegacyForget(ctx context.Context, id string) error {
	if err := r.c.Del(ctx, legacyRecordKey(id)).Err(); err != nil {
		return fmt.Errorf("remove old pipeline record %s: %w", id, err)
	}
	for _, k := range legacyIndexKeys(r.states) {
		if err := r.c.ZRem(ctx, k, id).Err(); err != nil {
			return fmt.Errorf("remove old index entry of pipeline %s: %w", id, err)
		}
	}
	return nil
}

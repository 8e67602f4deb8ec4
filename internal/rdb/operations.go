package rdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// operationKey holds one bulk operation's progress (a JSON document the
// tasks package gives meaning to): one small key per operation, outside
// the shards, that expires.
func operationKey(id string) string { return prefix + "op:" + id }

// SaveOperation writes an operation's document; it expires ttl after its
// last write.
func (r *RDB) SaveOperation(ctx context.Context, id string, doc []byte, ttl time.Duration) error {
	if err := r.c.Set(ctx, operationKey(id), doc, ttl).Err(); err != nil {
		return fmt.Errorf("save operation %s: %w", id, err)
	}
	return nil
}

// Operation reads an operation's document (ErrNotFound when there is none).
func (r *RDB) Operation(ctx context.Context, id string) ([]byte, error) {
	b, err := r.c.Get(ctx, operationKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read operation %s: %w", id, err)
	}
	return b, nil
}

package rdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// The profile directory of a workspace: what GET /profiles last said (ids,
// network codes, names, statusLevel — no secrets), so that a request
// naming a profile can be checked before it is queued, by any process
// that has Redis, without calling Swonkie.
//
//	mediaflow:profiles:<name>  string  the directory as JSON (expires)
//
// <name> is the workspace's name as mediaflow's configuration gives it
// ("default" for the one a worker's SWONKIE_API_ID opens), not a hash:
// a client that only has Redis must find it.

func profilesKey(name string) string { return prefix + "profiles:" + name }

// ProfileDirectory returns the directory of workspace name as written, or
// nil when none is cached.
func (r *RDB) ProfileDirectory(ctx context.Context, name string) ([]byte, error) {
	b, err := r.c.Get(ctx, profilesKey(name)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the profile directory of workspace %q: %w", name, err)
	}
	return b, nil
}

// SaveProfileDirectory writes the directory of workspace name, kept for
// ttl: a directory nobody refreshes stops being believed.
func (r *RDB) SaveProfileDirectory(ctx context.Context, name string, doc []byte, ttl time.Duration) error {
	if err := r.c.Set(ctx, profilesKey(name), doc, ttl).Err(); err != nil {
		return fmt.Errorf("write the profile directory of workspace %q: %w", name, err)
	}
	return nil
}

package rdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// The workspaces a fleet publishes for, as its workers' workspaces files
// name them, so that every process that only enqueues (the HTTP API, the
// enqueue CLI) refuses a request for a workspace no worker serves:
//
//	mediaflow:workspaces   string  JSON list of the workspace names (SET by each worker at start and reload)
//
// The names are all it holds: never an id or a key.

const registryKey = prefix + "workspaces"

// Registry reads and writes the fleet's workspace names. It holds no state
// of its own and is safe for concurrent use.
type Registry struct{ c redis.UniversalClient }

// NewRegistry returns the registry on c, which it shares and never closes.
func NewRegistry(c redis.UniversalClient) *Registry { return &Registry{c: c} }

// SetNames records the workspaces a worker serves.
func (r *Registry) SetNames(ctx context.Context, names []string) error {
	b, err := json.Marshal(names)
	if err != nil {
		return err
	}
	if err := r.c.Set(ctx, registryKey, b, 0).Err(); err != nil {
		return fmt.Errorf("record the workspace names: %w", err)
	}
	return nil
}

// Names returns the workspaces recorded, nil when no worker recorded any.
func (r *Registry) Names(ctx context.Context) ([]string, error) {
	b, err := r.c.Get(ctx, registryKey).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the workspace names: %w", err)
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("read the workspace names: %w", err)
	}
	return names, nil
}

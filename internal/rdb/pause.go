package rdb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// A workspace is paused for the whole fleet: by hand, or by a worker to
// which Swonkie refused the workspace's credentials. Its pipelines wait
// until it is resumed (by hand, or by a worker whose reloaded file gives
// the workspace a new key).
//
//	mediaflow:paused:<name>  string  JSON Pause (no expiry; DEL resumes); <name> = its configured name
//
// One key per workspace, one command each: cluster-safe without a tag.

func pausedKey(ws string) string { return prefix + "paused:" + ws }

// Pause says why a workspace is paused. It never holds a credential: Why
// is built from a Swonkie error's method, endpoint and status.
type Pause struct {
	// Why is what an operator reads (`enqueue workspaces`, the page).
	Why string `json:"why"`
	// ByHand: paused by an operator, so only resume ends it (a reload
	// does not).
	ByHand bool      `json:"byHand,omitempty"`
	At     time.Time `json:"at"`
}

// Pauses reads and writes workspace pauses. It holds no state of its own
// and is safe for concurrent use.
type Pauses struct{ c redis.UniversalClient }

// NewPauses returns the pauses on c, which it shares and never closes.
func NewPauses(c redis.UniversalClient) *Pauses { return &Pauses{c: c} }

// Set pauses ws. An automatic pause (ByHand false) never replaces a pause
// by hand, whose reason an operator wrote.
func (p *Pauses) Set(ctx context.Context, ws string, pause Pause) error {
	b, err := json.Marshal(pause)
	if err != nil {
		return err
	}
	if pause.ByHand {
		err = p.c.Set(ctx, pausedKey(ws), b, 0).Err()
	} else {
		err = p.c.SetArgs(ctx, pausedKey(ws), b, redis.SetArgs{Mode: "NX"}).Err()
		if errors.Is(err, redis.Nil) {
			err = nil // already paused; the first reason stays
		}
	}
	if err != nil {
		return fmt.Errorf("pause workspace %q: %w", ws, err)
	}
	return nil
}

// Clear resumes ws. With automaticOnly, a pause by hand stays (a reload
// resumes only what a refused key paused).
func (p *Pauses) Clear(ctx context.Context, ws string, automaticOnly bool) error {
	if automaticOnly {
		cur, err := p.Get(ctx, ws)
		if err != nil || cur == nil || cur.ByHand {
			return err
		}
	}
	if err := p.c.Del(ctx, pausedKey(ws)).Err(); err != nil {
		return fmt.Errorf("resume workspace %q: %w", ws, err)
	}
	return nil
}

// Get returns ws's pause, nil when it is not paused.
func (p *Pauses) Get(ctx context.Context, ws string) (*Pause, error) {
	b, err := p.c.Get(ctx, pausedKey(ws)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the pause of workspace %q: %w", ws, err)
	}
	var pause Pause
	if err := json.Unmarshal(b, &pause); err != nil {
		return nil, fmt.Errorf("read the pause of workspace %q: %w", ws, err)
	}
	return &pause, nil
}

// All returns the pauses of the workspaces named, by name (those not
// paused are left out), one round trip per workspace in one pipeline.
func (p *Pauses) All(ctx context.Context, names []string) (map[string]*Pause, error) {
	cmds := make([]*redis.StringCmd, len(names))
	_, err := p.c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = pl.Get(ctx, pausedKey(n))
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, fmt.Errorf("read the workspace pauses: %w", err)
	}
	out := map[string]*Pause{}
	for i, cmd := range cmds {
		b, err := cmd.Bytes()
		if errors.Is(err, redis.Nil) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read the pause of workspace %q: %w", names[i], err)
		}
		var pause Pause
		if err := json.Unmarshal(b, &pause); err != nil {
			return nil, fmt.Errorf("read the pause of workspace %q: %w", names[i], err)
		}
		out[names[i]] = &pause
	}
	return out, nil
}

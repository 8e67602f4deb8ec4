package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// What an operator sees of and does to the fleet's workspaces (`enqueue
// workspaces`, `enqueue workspace pause|resume`, GET /v1/workspaces):
// which are served, which are paused and why.

// WorkspaceStatus is one workspace as an operator sees it.
type WorkspaceStatus struct {
	Name   string `json:"name"`
	Paused bool   `json:"paused"`
	// Why it is paused: the reason given by hand, or Swonkie's refusal.
	Why string `json:"why,omitempty"`
	// ByHand: paused by an operator; only a resume ends it.
	ByHand   bool       `json:"byHand,omitempty"`
	PausedAt *time.Time `json:"pausedAt,omitempty"`
}

// ErrUnknownWorkspace: the fleet serves no workspace of that name.
var ErrUnknownWorkspace = errors.New("unknown workspace")

// WorkspaceStatuses lists the workspaces the fleet serves, in name order,
// each with its pause.
func (c *Client) WorkspaceStatuses(ctx context.Context) ([]WorkspaceStatus, error) {
	names, err := c.workspaces.get(ctx)
	if err != nil {
		return nil, err
	}
	names = slices.Sorted(slices.Values(names))
	pauses, err := rdb.NewPauses(c.store.rdb.Client()).All(ctx, names)
	if err != nil {
		return nil, err
	}
	out := make([]WorkspaceStatus, 0, len(names))
	for _, n := range names {
		s := WorkspaceStatus{Name: n}
		if p := pauses[n]; p != nil {
			at := p.At
			s.Paused, s.Why, s.ByHand, s.PausedAt = true, p.Why, p.ByHand, &at
		}
		out = append(out, s)
	}
	return out, nil
}

// WorkspaceStatusOf is one workspace's status; ErrUnknownWorkspace when
// the fleet does not serve it.
func (c *Client) WorkspaceStatusOf(ctx context.Context, name string) (*WorkspaceStatus, error) {
	all, err := c.WorkspaceStatuses(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		if all[i].Name == name {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("%w %q", ErrUnknownWorkspace, name)
}

// PauseWorkspace pauses a workspace by hand for the whole fleet: its
// pipelines wait, without failing or spending retries, until
// ResumeWorkspace. why is what operators will read ("" says "paused by
// hand").
func (c *Client) PauseWorkspace(ctx context.Context, name, why string) (*WorkspaceStatus, error) {
	if _, err := c.WorkspaceStatusOf(ctx, name); err != nil {
		return nil, err
	}
	why = strings.TrimSpace(why)
	if why == "" {
		why = "paused by hand"
	}
	if len(why) > 200 {
		why = why[:200]
	}
	if err := rdb.NewPauses(c.store.rdb.Client()).Set(ctx, name, rdb.Pause{Why: why, ByHand: true, At: c.store.now().UTC()}); err != nil {
		return nil, err
	}
	return c.WorkspaceStatusOf(ctx, name)
}

// ResumeWorkspace ends a workspace's pause, by hand or not: its pipelines
// go on at their next look (within seconds). A workspace whose key is
// still refused is paused again by its next call.
func (c *Client) ResumeWorkspace(ctx context.Context, name string) (*WorkspaceStatus, error) {
	if _, err := c.WorkspaceStatusOf(ctx, name); err != nil {
		return nil, err
	}
	if err := rdb.NewPauses(c.store.rdb.Client()).Clear(ctx, name, false); err != nil {
		return nil, err
	}
	return c.WorkspaceStatusOf(ctx, name)
}

package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/mediaflow/mediaflow/tracing"
)

// ErrNotReplayable refuses a replay of a pipeline that did not fail and
// was not cancelled (it runs, or succeeded), or whose cleanup still runs.
var ErrNotReplayable = errors.New("only a failed or cancelled pipeline whose cleanup is done can be replayed")

// Replay runs a failed or cancelled pipeline again, under the same id and
// key, carrying e's changes first (for example new profiles; the empty
// edit changes nothing). It never makes a second post: media still ready
// are used again and the others uploaded again, and a post an earlier
// attempt made (or may have made: a lost reply) is adopted and updated
// (settle's reopen says how). The history shows each attempt; the
// pipelines accepted counter counts the pipeline once, the finished one
// each attempt's ending. who is written in the history.
func (c *Client) Replay(ctx context.Context, id string, e Edit, who string) (_ *Record, err error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", id, ErrNotFound)
	}
	rec, err := c.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx, span := startFor(ctx, c.tracer, rec, c.store.now(), spanReplay)
	defer func() { tracing.End(span, err) }()
	// Only a pipeline a replay may run again: another is refused for
	// that, below, whatever the edit says.
	if rec.State == StateFailed || rec.State == StateCancelled {
		if err := c.checkEdited(ctx, rec, e); err != nil {
			return nil, err
		}
	}
	now := c.store.now().UTC()
	if who == "" {
		who = "someone"
	}
	_, err = c.store.update(ctx, rec, func(r *Record) error {
		switch {
		case r.State != StateFailed && r.State != StateCancelled:
			return fmt.Errorf("replay pipeline %s (%s): %w", r.ID, r.State, ErrNotReplayable)
		case r.Cleanup == CleanupPending:
			return fmt.Errorf("replay pipeline %s (its cleanup is still running): %w", r.ID, ErrNotReplayable)
		case r.PublishedAt != nil:
			return fmt.Errorf("replay pipeline %s: %w", r.ID, ErrAlreadyPublished)
		}
		r.note(now, r.Step, nil, "info", fmt.Sprintf("replay asked by %s", who))
		if !e.Empty() {
			if err := c.amend(r, e, who, now); err != nil && !errors.Is(err, errNoChange) {
				return err
			}
		} else if err := c.revalidate(r, now); err != nil {
			return err
		}
		r.in.ReplayAsked = true
		settle(r, now, "") // reopens it: nothing else is owed
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = c.enqueueFirst(ctx, rec)
	return rec.public(), err
}

// revalidate checks that the request as it stands can run again (a
// publishAt that passed must be moved by the replay's edit).
func (c *Client) revalidate(r *Record, now time.Time) error {
	req := r.Request
	return req.validate(now, c.timing.MinScheduleLead, nil, nil, nil)
}

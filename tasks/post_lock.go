package tasks

import (
	"context"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// postLock is a run's hold on a post of the caller's while it reads the
// post's media and writes the whole list back (PUT replaces arrays
// wholesale): two pipelines adding their media to one post at once would
// each write back a list without the other's, and a cancel taking ours
// off could put back media another pipeline's cleanup just took off. The
// post claim cannot cover it: it is the pipeline's, not the post's.
type postLock struct {
	p     *pipeline
	r     *run
	id    string
	taken time.Time
	lease time.Duration
}

// lockPost takes the lock on post id, or says to wait for the run holding
// it. The lease covers a read (one call, and a margin for the Redis
// writes around it), a write, and the time a write this side stopped
// waiting for is given to land, as the post claim gives it (one call and
// Timing.ClaimMargin): a holder killed mid-call holds up the next run no
// longer than that.
func (p *pipeline) lockPost(ctx context.Context, r *run, id, step string) (*postLock, error) {
	l := &postLock{p: p, r: r, id: id, taken: time.Now(), lease: 3*p.api.CallTimeout() + 2*p.timing.ClaimMargin}
	ok, err := p.workspace().LockPost(ctx, id, r.id, l.lease)
	if err != nil {
		return nil, wrap(err, "%s: lock post %s", step, id)
	}
	if !ok {
		return nil, waitFor(time.Second, "%s: another pipeline is changing post %s; waiting for it", step, id)
	}
	return l, nil
}

// covers says to read the post again when what is left of the lease no
// longer covers the write and its landing: a holder whose lease ran out
// may have a successor reading the post right now.
func (l *postLock) covers(step string) error {
	if time.Since(l.taken) < l.lease-2*l.p.api.CallTimeout()-l.p.timing.ClaimMargin {
		return nil
	}
	return waitFor(time.Second, "%s: reading post %s took too long to change it under its lock; reading it again", step, l.id)
}

// release ends the lock, unless the write may still land (writeErr,
// swonkie.MayStillLand): then the lock runs out on its own, after the
// time such a write is given.
func (l *postLock) release(ctx context.Context, writeErr error) {
	if swonkie.MayStillLand(writeErr) {
		return
	}
	if err := l.p.workspace().UnlockPost(context.WithoutCancel(ctx), l.id, l.r.id); err != nil {
		l.r.log.Warn().Err(err).Str("post_id", l.id).Msg("could not unlock a post; the lock runs out")
	}
}

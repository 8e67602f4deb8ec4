package tasks

import (
	"context"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// await is media:await: poll a confirmed media until processing ends. It
// never sleeps in the handler: a look that finds the media still working
// returns "not yet", and asynq runs the same task again after a delay that
// grows with the time waited (pollDelay), up to AwaitCap in all. Polls
// write nothing to the record.
func (p *pipeline) await(ctx context.Context, r *run) error {
	rec, i := r.rec, r.pl.Item
	if i < 0 || i >= len(rec.Media) {
		return permanentf("await: pipeline %s has no media item %d", rec.ID, i)
	}
	it := rec.Media[i]
	if it.Generation != r.pl.Generation || it.Status != ItemConfirmed {
		return nil
	}
	m, err := p.api.GetMedia(ctx, it.MediaID)
	if swonkie.IsNotFound(err) {
		return p.restartItem(ctx, r, i, "media disappeared while processing")
	}
	if err != nil {
		return wrap(err, "await media %s", it.MediaID)
	}
	switch {
	case m.Status.Ready():
		return p.markReady(ctx, r, i)
	case m.Status.Failed():
		return p.processingFailed(ctx, r, i, m.Status)
	}
	var waited time.Duration
	if it.ConfirmedAt != nil {
		waited = p.now().Sub(*it.ConfirmedAt)
	}
	if waited > p.timing.AwaitCap {
		return permanentf("media %s of item %d: still %s %s after it was confirmed (cap %s)",
			it.MediaID, i, m.Status, waited.Round(time.Second), p.timing.AwaitCap)
	}
	return waitFor(pollDelay(p.timing.AwaitFirst, p.timing.AwaitMax, waited), "media %s of item %d is %s", it.MediaID, i, m.Status)
}

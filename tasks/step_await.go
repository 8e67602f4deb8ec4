package tasks

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/swonkie"
)

// await is media:await: poll a confirmed media until processing ends. It
// never sleeps in the handler: a poll that finds the media still working
// enqueues the next poll with a growing delay, up to AwaitCap in all.
func (p *pipeline) await(ctx context.Context, rec *Record, pl Payload, log zerolog.Logger) error {
	i := pl.Item
	if i < 0 || i >= len(rec.Media) {
		return permanentf("await: pipeline %s has no media item %d", rec.ID, i)
	}
	it := rec.Media[i]
	if it.Generation != pl.Generation || it.Status.rank() < ItemConfirmed.rank() {
		return nil
	}
	if it.Status == ItemReady {
		return p.markReady(ctx, rec, i)
	}
	m, err := p.api.GetMedia(ctx, it.MediaID)
	if swonkie.IsNotFound(err) {
		return p.restartItem(ctx, rec, i, "media disappeared while processing", log)
	}
	if err != nil {
		return wrap(err, "await media %s", it.MediaID)
	}
	switch {
	case m.Status.Ready():
		return p.markReady(ctx, rec, i)
	case m.Status.Failed():
		return p.processingFailed(ctx, rec, i, m.Status, log)
	}
	since := time.Duration(0)
	if it.ConfirmedAt != nil {
		since = p.now().Sub(*it.ConfirmedAt)
	}
	if since > p.timing.AwaitCap {
		return permanentf("media %s of item %d: still %s %s after it was confirmed (cap %s)",
			it.MediaID, i, m.Status, since.Round(time.Second), p.timing.AwaitCap)
	}
	next := pl
	next.Poll++
	return p.enqueue(ctx, TypeMediaAwait, next, asynq.ProcessIn(backoff(p.timing.AwaitFirst, p.timing.AwaitMax, pl.Poll)))
}

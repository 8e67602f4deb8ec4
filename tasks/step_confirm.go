package tasks

import (
	"context"
	"fmt"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/swonkie"
)

// confirm is media:confirm: declare the upload complete, then look at the
// status once, so media that process quickly skip the polling step.
//
// Whether confirming twice is harmless is not documented, so a retry reads
// the media first and only confirms one still waiting for it; a 409 is
// read the same way.
func (p *pipeline) confirm(ctx context.Context, rec *Record, pl Payload, log zerolog.Logger) error {
	i := pl.Item
	if i < 0 || i >= len(rec.Media) {
		return permanentf("confirm: pipeline %s has no media item %d", rec.ID, i)
	}
	it := rec.Media[i]
	if it.Generation != pl.Generation || it.Status.rank() < ItemUploaded.rank() {
		return nil // a newer generation of this item has its own tasks
	}
	if it.Status.rank() >= ItemConfirmed.rank() {
		return p.afterConfirm(ctx, rec, i, nil, log)
	}
	id := it.MediaID
	var m *swonkie.Media
	var err error
	if retry, _ := asynq.GetRetryCount(ctx); retry > 0 {
		if m, err = p.api.GetMedia(ctx, id); err != nil && !swonkie.IsNotFound(err) {
			return wrap(err, "confirm media %s: read status", id)
		}
	}
	if err == nil && (m == nil || m.Status == swonkie.MediaUploading) {
		m, err = p.api.ConfirmMedia(ctx, id)
		if swonkie.IsConflict(err) {
			m, err = p.api.GetMedia(ctx, id)
			if err == nil && m.Status == swonkie.MediaUploading {
				// Swonkie has no file for it: upload again, as a new entry.
				return p.restartItem(ctx, rec, i, "confirm refused: no uploaded file", log)
			}
		}
	}
	if swonkie.IsNotFound(err) {
		return p.restartItem(ctx, rec, i, "media disappeared before it was confirmed", log)
	}
	if err != nil {
		return wrap(err, "confirm media %s", id)
	}
	if m == nil || (!m.Status.Ready() && !m.Status.Failed()) {
		// One look right away; a failure here only means polling starts.
		if got, gerr := p.api.GetMedia(ctx, id); gerr == nil {
			m = got
		}
	}
	now := p.now().UTC()
	ready := m != nil && m.Status.Ready()
	err = p.store.update(ctx, rec, func(r *Record) error {
		it := &r.Media[i]
		if it.MediaID != id || it.Status.rank() >= ItemConfirmed.rank() {
			return errNoChange
		}
		// Confirmed means processing: the item is now in the await step.
		p.start(r, StepAwait)
		it.Status, it.ConfirmedAt = ItemConfirmed, &now
		r.progressed()
		r.note(now, StepConfirm, &i, "ok", "confirmed media "+id)
		if ready {
			// Processed already (small images often are): the same write
			// records it, rather than a second one right after (markReady
			// then finds nothing to write and only does the fan-in).
			p.setReady(r, i, now)
		}
		return nil
	})
	if err != nil {
		return wrap(err, "record confirmation of media %s", id)
	}
	return p.afterConfirm(ctx, rec, i, m, log)
}

// afterConfirm moves a confirmed item on by what its status says: ready
// (fan-in), failed, or still processing (poll).
func (p *pipeline) afterConfirm(ctx context.Context, rec *Record, i int, m *swonkie.Media, log zerolog.Logger) error {
	switch {
	case rec.Media[i].Status == ItemReady:
		return p.markReady(ctx, rec, i)
	case m != nil && m.Status.Ready():
		return p.markReady(ctx, rec, i)
	case m != nil && m.Status.Failed():
		return p.processingFailed(ctx, rec, i, m.Status, log)
	}
	it := rec.Media[i]
	return p.enqueue(ctx, TypeMediaAwait, Payload{PipelineID: rec.ID, Item: i, Generation: it.Generation, Poll: 1},
		asynq.ProcessIn(p.timing.AwaitFirst))
}

// processingFailed handles a media that ended in ERROR or ARCHIVED:
// processing failures can be passing, so the item starts over with a new
// entry a few times before the pipeline fails.
func (p *pipeline) processingFailed(ctx context.Context, rec *Record, i int, status swonkie.MediaStatus, log zerolog.Logger) error {
	id := rec.Media[i].MediaID
	if status == swonkie.MediaError {
		return p.restartItem(ctx, rec, i, fmt.Sprintf("processing ended in %s", status), log)
	}
	return permanentf("media %s of item %d: processing ended in %s", id, i, status)
}

// restartItem abandons item i's entry and enqueues its upload again.
func (p *pipeline) restartItem(ctx context.Context, rec *Record, i int, reason string, log zerolog.Logger) error {
	id := rec.Media[i].MediaID
	ok, err := p.abandon(ctx, rec, i, reason, log)
	if err != nil {
		return err
	}
	if !ok {
		return permanentf("media %s of item %d: %s; gave up after %d media entries", id, i, reason, rec.Media[i].Generation)
	}
	return p.enqueue(ctx, TypeMediaUpload, Payload{PipelineID: rec.ID, Item: i, Generation: rec.Media[i].Generation})
}

package tasks

import (
	"context"
	"fmt"

	"github.com/mediaflow/mediaflow/swonkie"
)

// confirm is media:confirm: declare the upload complete, then look at the
// status once, so media that process quickly skip the polling step.
//
// Whether confirming twice is harmless is not documented, so a retry reads
// the media first and only confirms one still waiting for it; a 409 is
// read the same way.
func (p *pipeline) confirm(ctx context.Context, r *run) error {
	rec, i := r.rec, r.pl.Item
	if i < 0 || i >= len(rec.Media) {
		return permanentf("confirm: pipeline %s has no media item %d", rec.ID, i)
	}
	it := rec.Media[i]
	if it.Generation != r.pl.Generation || it.Status != ItemUploaded {
		return nil // past this step, or a newer entry has its own tasks
	}
	id := it.MediaID
	var m *swonkie.Media
	var err error
	if r.retried > 0 {
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
				return p.restartItem(ctx, r, i, "confirm refused: no uploaded file")
			}
		}
	}
	if swonkie.IsNotFound(err) {
		return p.restartItem(ctx, r, i, "media disappeared before it was confirmed")
	}
	if err != nil {
		return wrap(err, "confirm media %s", id)
	}
	if m == nil {
		m = &swonkie.Media{} // the docs show no answer body for confirm
	}
	if !m.Status.Ready() && !m.Status.Failed() {
		// One look right away; a failure here only means polling starts.
		if got, gerr := p.api.GetMedia(ctx, id); gerr == nil {
			m = got
		}
	}
	if m.Status.Failed() {
		return p.processingFailed(ctx, r, i, m.Status)
	}
	now := p.now().UTC()
	err = r.save(ctx, func(rec *Record) error {
		it := &rec.Media[i]
		if it.MediaID != id || it.Status != ItemUploaded {
			return errNoChange
		}
		it.Status, it.ConfirmedAt = ItemConfirmed, &now
		rec.progressed()
		rec.note(now, StepConfirm, &i, "ok", "confirmed media "+id)
		if m.Status.Ready() {
			// Processed already (small images often are): the same write
			// records it, and the planner goes straight to the post.
			setReady(rec, i, now)
		}
		return nil
	})
	if err != nil {
		return wrap(err, "record confirmation of media %s", id)
	}
	return nil
}

// processingFailed handles a media that ended in ERROR or ARCHIVED:
// processing failures can be passing, so the item starts over with a new
// entry a few times before the pipeline fails.
func (p *pipeline) processingFailed(ctx context.Context, r *run, i int, status swonkie.MediaStatus) error {
	id := r.rec.Media[i].MediaID
	if status == swonkie.MediaError {
		return p.restartItem(ctx, r, i, fmt.Sprintf("processing ended in %s", status))
	}
	return permanentf("media %s of item %d: processing ended in %s", id, i, status)
}

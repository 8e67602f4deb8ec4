package tasks

import (
	"context"
	"time"
)

// end moves a record to a terminal state, inside an update function: the
// only code that does. It also makes the caller's notification owed, in
// the same write, so that an ended pipeline always has its event.
func (p *pipeline) end(r *Record, state State, now time.Time) {
	r.State = state
	if state != StateFailed {
		r.Step = StepDone
	}
	r.FinishedAt = &now
	r.settleCleanup()
	r.addNotice(p.webhook.urlFor(r), terminalEvent(state), now)
}

func terminalEvent(s State) string {
	switch s {
	case StateSucceeded:
		return EventSucceeded
	case StateCancelled:
		return EventCancelled
	}
	return EventFailed
}

// write is every worker-side write of a record: the update, then the side
// effects the change calls for, decided from the record before and after
// the compare-and-set that won. A change is counted once, by the worker
// whose write made it, however many runs tried. It returns the work the
// write made needed (nil when nothing was written).
func (p *pipeline) write(ctx context.Context, rec *Record, fn func(*Record) error) ([]next, error) {
	ch, err := p.store.update(ctx, rec, fn)
	if err != nil || ch == nil {
		return nil, err
	}
	p.observe(ch)
	work := newWork(ch.before, ch.after, p.timing)
	if work == nil {
		work = []next{}
	}
	return work, nil
}

// observe emits the metrics of one change.
func (p *pipeline) observe(ch *change) {
	b, a := ch.before, ch.after
	if b.State == StatePending && a.State != StatePending {
		p.obs.PipelineAccepted()
	}
	if !b.Staged && a.Staged && a.AttachedAt != nil {
		p.obs.ObserveAttached(a.AttachedAt.Sub(a.CreatedAt))
	}
	if b.PublishedAt == nil && a.PublishedAt != nil {
		p.obs.ObservePublished(a.PublishedAt.Sub(a.CreatedAt))
	}
	reason := cleanupReason(a)
	for i := range a.Media {
		if i < len(b.Media) && b.Media[i].MediaID == a.Media[i].MediaID {
			p.observeDisposal(b.Media[i].disposal, a.Media[i].disposal, reason)
		}
	}
	for i := range a.StaleMedia {
		var before disposal
		if i < len(b.StaleMedia) {
			before = b.StaleMedia[i].disposal
		}
		p.observeDisposal(before, a.StaleMedia[i].disposal, ReasonStale)
	}
	if !b.State.Terminal() && a.State.Terminal() {
		failedStep := ""
		if a.State == StateFailed {
			failedStep = string(a.Step)
		}
		p.obs.PipelineFinished(string(a.State), failedStep)
		p.log.Info().Str("pipeline_id", a.ID).Str("state", string(a.State)).Str("step", string(a.Step)).Msg("pipeline finished")
	}
}

func (p *pipeline) observeDisposal(b, a disposal, reason string) {
	if !b.Deleted && a.Deleted {
		p.obs.MediaDeleted(reason)
	}
	if !b.LeftBehind && a.LeftBehind {
		p.obs.MediaLeftBehind(ReasonDeleteRefused)
	}
}

// Reasons of mediaflow_media_deleted_total and _left_behind_total (the
// metrics package lists the same words).
const (
	ReasonAfterPublish  = "after_publish"
	ReasonCompensation  = "compensation"
	ReasonStale         = "stale"
	ReasonCancelled     = "cancelled"
	ReasonDeleteRefused = "delete_refused"
	ReasonUnrecorded    = "unrecorded"
)

// cleanupReason is why a pipeline's live media are deleted.
func cleanupReason(r *Record) string {
	switch {
	case r.CancelRequested || r.State == StateCancelled:
		return ReasonCancelled
	case r.State == StateFailed:
		return ReasonCompensation
	case r.PublishedAt != nil:
		return ReasonAfterPublish
	}
	return ReasonStale
}

package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Observer receives the pipeline events metrics are made of. A
// *metrics.Metrics is one; nil observers are replaced by a no-op.
type Observer interface {
	PipelineAccepted()
	PipelineFinished(state, failedStep string)
	ObserveAttached(d time.Duration)
	ObservePublished(d time.Duration)
	MediaDeleted(reason string)
	MediaLeftBehind(reason string)
	SweepFinished(err error, d time.Duration, acted map[string]int)
}

type nopObserver struct{}

func (nopObserver) PipelineAccepted()                                  {}
func (nopObserver) PipelineFinished(string, string)                    {}
func (nopObserver) ObserveAttached(time.Duration)                      {}
func (nopObserver) ObservePublished(time.Duration)                     {}
func (nopObserver) MediaDeleted(string)                                {}
func (nopObserver) MediaLeftBehind(string)                             {}
func (nopObserver) SweepFinished(error, time.Duration, map[string]int) {}

// pipeline holds what every step handler needs. Each step lives in its own
// file (step_*.go); this file has what they share: loading the record,
// recording failures, chaining, and compensation.
type pipeline struct {
	store   *store
	api     *swonkie.Client
	sources *source.Opener
	enq     *asynq.Client
	obs     Observer
	log     zerolog.Logger
	timing  Timing
	now     func() time.Time
	// holder names this worker in sweep claims.
	holder string
}

// stepFunc is one step's work on a loaded, non-terminal record.
type stepFunc func(ctx context.Context, rec *Record, pl Payload, log zerolog.Logger) error

// handler wraps a step: decode the payload, read the record before acting
// (design.md invariant 1), skip pipelines that are over, and turn the
// step's error into a retry, a rate-limited wait or a failure of the
// pipeline.
func (p *pipeline) handler(step Step, fn stepFunc) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		retry, _ := asynq.GetRetryCount(ctx)
		log := p.log.With().Str("task_type", t.Type()).Int("attempt", retry+1).Logger()
		pl, err := decodePayload(t)
		if err != nil {
			log.Error().Err(err).Msg("dropping task with a bad payload")
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		log = log.With().Str("pipeline_id", pl.PipelineID).Logger()
		rec, err := p.store.get(ctx, pl.PipelineID)
		if errors.Is(err, ErrNotFound) {
			log.Warn().Msg("pipeline record is gone (retention); nothing to do")
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: read pipeline %s: %w", step, pl.PipelineID, err)
		}
		if step != StepCleanup && (rec.State.Terminal() || rec.CancelRequested) {
			log.Debug().Str("state", string(rec.State)).Msg("pipeline is over; step skipped")
			return nil
		}
		err = fn(ctx, rec, pl, log)
		if err != nil {
			err = p.failed(ctx, t.Type(), rec, step, pl, err, log)
		}
		// A write that raced a cancel or a failure may have added something
		// to clean up after the cleanup already ran: hand it over again.
		if step != StepCleanup && rec.owesCleanup() && (rec.State.Terminal() || rec.CancelRequested) {
			if eerr := p.enqueueCleanup(ctx, rec, cleanupReason(rec)); eerr != nil && err == nil {
				err = eerr
			}
		}
		return err
	}
}

// failed records a step's error on the pipeline and decides what asynq
// does next. Permanent errors and the last allowed attempt fail the
// pipeline (and start compensation); others are retried.
func (p *pipeline) failed(ctx context.Context, typ string, rec *Record, step Step, pl Payload, stepErr error, log zerolog.Logger) error {
	if errors.Is(stepErr, errRestart) {
		log.Info().Msg("restarting the step with a fresh media entry")
		return stepErr
	}
	retry, _ := asynq.GetRetryCount(ctx)
	maxRetry, _ := asynq.GetMaxRetry(ctx)
	if IsRateLimited(stepErr) && retry >= maxRetry {
		// asynq archives a task whose retries are used up before it asks
		// IsFailure, so a 429 on the last allowed attempt would end the
		// step. A 429 is not the step's failure: hand the step to a fresh
		// task that waits what the server asked.
		next := pl
		next.Resume++
		wait, _ := swonkie.RetryAfter(stepErr)
		if err := p.enqueue(ctx, typ, next, asynq.ProcessIn(wait+time.Second)); err != nil {
			return err
		}
		log.Info().Err(stepErr).Msg("rate limited on the last allowed attempt; handed to a fresh task")
		return fmt.Errorf("%w: %w", stepErr, asynq.RevokeTask)
	}
	perm := IsPermanent(stepErr)
	final := perm || (!IsRateLimited(stepErr) && retry >= maxRetry)
	now := p.now().UTC()
	msg := stepErr.Error()
	var item *int
	if isMediaStep(step) {
		i := pl.Item
		item = &i
	}
	failsPipeline := final && step != StepCleanup
	err := p.store.update(ctx, rec, func(r *Record) error {
		if r.State.Terminal() && step != StepCleanup {
			return errNoChange
		}
		r.Attempts++
		r.Error = &StepError{Step: step, Status: statusOf(stepErr), Message: msg, Permanent: perm, At: now}
		outcome := "retry"
		switch {
		case IsRateLimited(stepErr):
			outcome = "rate_limited"
		case failsPipeline:
			outcome = "failed"
			r.State = StateFailed
			r.Step = step
			r.FinishedAt = &now
			r.settleCleanup()
		case final:
			// A cleanup that gave up stays owed: the sweep enqueues it again.
			outcome = "failed"
		}
		r.note(now, step, item, outcome, msg)
		return nil
	})
	if err != nil {
		log.Error().Err(err).AnErr("step_error", stepErr).Msg("could not record the step's failure")
		return stepErr
	}
	ev := log.Warn()
	if failsPipeline {
		ev = log.Error()
	}
	ev.Err(stepErr).Int("status", statusOf(stepErr)).Bool("permanent", perm).Bool("final", final).Msg("step failed")
	if failsPipeline && rec.State == StateFailed {
		p.obs.PipelineFinished(string(StateFailed), string(step))
		if rec.owesCleanup() {
			if err := p.enqueueCleanup(ctx, rec, "compensation"); err != nil {
				log.Error().Err(err).Msg("could not enqueue compensation; the sweep will")
			}
		}
	}
	if perm {
		return fmt.Errorf("%w: %w", stepErr, asynq.SkipRetry)
	}
	return stepErr
}

func isMediaStep(s Step) bool { return s == StepUpload || s == StepConfirm || s == StepAwait }

func cleanupReason(r *Record) string {
	switch {
	case r.CancelRequested || r.State == StateCancelled:
		return "cancelled"
	case r.State == StateFailed:
		return "compensation"
	case r.PublishedAt != nil:
		return "after_publish"
	}
	return "stale"
}

// enqueue chains a step. A task id conflict means the step is already
// queued (or running): that is success.
func (p *pipeline) enqueue(ctx context.Context, typ string, pl Payload, opts ...asynq.Option) error {
	return enqueueStep(ctx, p.enq, p.timing, typ, pl, opts...)
}

func enqueueStep(ctx context.Context, enq *asynq.Client, t Timing, typ string, pl Payload, opts ...asynq.Option) error {
	queue, timeout := QueuePipeline, t.StepTimeout
	switch typ {
	case TypeMediaUpload:
		timeout = t.UploadTimeout
	case TypeMediaCleanup, TypeCleanupSweep:
		queue = QueueCleanup
	}
	all := append([]asynq.Option{
		asynq.TaskID(taskID(typ, pl)),
		asynq.Queue(queue),
		asynq.MaxRetry(t.MaxRetry),
		asynq.Timeout(timeout),
	}, opts...)
	_, err := enq.EnqueueContext(ctx, newTask(typ, pl), all...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s for pipeline %s: %w", typ, pl.PipelineID, err)
	}
	return nil
}

// enqueueCleanup hands the record's cleanup to a media:cleanup task. The
// record version in the task id lets a later write ask again while an
// earlier cleanup is still running.
func (p *pipeline) enqueueCleanup(ctx context.Context, rec *Record, reason string) error {
	return p.enqueue(ctx, TypeMediaCleanup, Payload{PipelineID: rec.ID, Reason: reason, Poll: int(rec.version)})
}

// start moves a pending pipeline to running; every first write of a step
// calls it.
func (p *pipeline) start(r *Record, step Step) {
	if r.State == StatePending {
		r.State = StateRunning
		r.DueAt = p.now().UTC().Add(p.timing.StuckAfter)
		p.obs.PipelineAccepted()
	}
	if stepRank(step) > stepRank(r.Step) {
		r.Step = step
	}
}

func stepRank(s Step) int {
	for i, x := range []Step{StepAccepted, StepUpload, StepConfirm, StepAwait, StepAttach, StepPublish, StepCleanup, StepDone} {
		if x == s {
			return i
		}
	}
	return -1
}

// abandon gives up item i's current media entry (its upload URL is gone,
// or it ended in ERROR): the item starts over in a new generation and the
// entry joins the stale media, deleted at once if possible and by the
// cleanup otherwise. It reports whether the item may still start over.
func (p *pipeline) abandon(ctx context.Context, rec *Record, i int, reason string, log zerolog.Logger) (bool, error) {
	now := p.now().UTC()
	var id string
	err := p.store.update(ctx, rec, func(r *Record) error {
		it := &r.Media[i]
		id = it.MediaID
		if id != "" {
			r.StaleMedia = append(r.StaleMedia, StaleMedia{MediaID: id, Item: i, Reason: reason})
		}
		it.MediaID, it.Status, it.Bytes = "", ItemPending, 0
		it.MediaCreatedAt, it.ConfirmedAt, it.ReadyAt = nil, nil, nil
		it.Generation++
		r.note(now, StepUpload, &i, "info", fmt.Sprintf("abandoned media %s: %s", id, reason))
		return nil
	})
	if err != nil {
		return false, err
	}
	if id != "" {
		p.deleteStale(ctx, rec, id, log)
	}
	return rec.Media[i].Generation < p.timing.MaxGenerations, nil
}

// deleteStale deletes one abandoned media now; when that fails the record
// still lists it and the cleanup (or the sweep) deletes it later.
func (p *pipeline) deleteStale(ctx context.Context, rec *Record, id string, log zerolog.Logger) {
	if err := p.api.DeleteMedia(ctx, id); err != nil {
		log.Warn().Err(err).Str("media_id", id).Msg("could not delete stale media yet; the cleanup will")
		return
	}
	p.obs.MediaDeleted("stale")
	if err := p.store.update(ctx, rec, func(r *Record) error { r.markDeleted(id); return nil }); err != nil {
		log.Warn().Err(err).Str("media_id", id).Msg("deleted stale media but could not record it; a later delete will find it gone")
	}
}

// markReady records item i as usable and, when it was the last one, hands
// the pipeline to post:attach (the fan-in: the write is atomic, so exactly
// the item that completes the set sees every item ready, and the attach
// task id absorbs any duplicate).
func (p *pipeline) markReady(ctx context.Context, rec *Record, i int) error {
	now := p.now().UTC()
	err := p.store.update(ctx, rec, func(r *Record) error {
		if r.Media[i].Status == ItemReady {
			return errNoChange
		}
		p.setReady(r, i, now)
		return nil
	})
	if err != nil {
		return err
	}
	if rec.allReady() {
		return p.enqueue(ctx, TypePostAttach, Payload{PipelineID: rec.ID})
	}
	return nil
}

// setReady is markReady's change of the record, for update functions.
func (p *pipeline) setReady(r *Record, i int, now time.Time) {
	it := &r.Media[i]
	p.start(r, StepAwait)
	it.Status = ItemReady
	it.ReadyAt = &now
	if it.ConfirmedAt == nil {
		it.ConfirmedAt = &now
	}
	r.progressed()
	r.note(now, StepAwait, &i, "ok", "media "+it.MediaID+" is ready")
	if r.allReady() {
		p.start(r, StepAttach)
	}
}

// wrap names the step and the thing in an error, keeping its kind.
func wrap(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}

package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Observer receives the pipeline events metrics are made of. A
// *metrics.Metrics is one; nil observers are replaced by a no-op. Every
// event is emitted by observe (finish.go), from the record before and
// after the write that made it happen, by the worker whose compare-and-set
// made it, so each is counted once.
type Observer interface {
	PipelineAccepted()
	PipelineFinished(state, failedStep string)
	// The durations take the context of the write that made them, whose
	// span's trace becomes the observation's exemplar.
	ObserveAttachedContext(ctx context.Context, d time.Duration)
	ObservePublishedContext(ctx context.Context, d time.Duration)
	MediaDeleted(reason string)
	MediaLeftBehind(reason string)
	DuplicatePostsDeleted(n int)
	WebhookDelivery(outcome string, took time.Duration)
	SweepFinished(err error, d time.Duration, acted map[string]int)
}

type nopObserver struct{}

func (nopObserver) PipelineAccepted()                                      {}
func (nopObserver) PipelineFinished(string, string)                        {}
func (nopObserver) ObserveAttachedContext(context.Context, time.Duration)  {}
func (nopObserver) ObservePublishedContext(context.Context, time.Duration) {}
func (nopObserver) MediaDeleted(string)                                    {}
func (nopObserver) MediaLeftBehind(string)                                 {}
func (nopObserver) DuplicatePostsDeleted(int)                              {}
func (nopObserver) WebhookDelivery(string, time.Duration)                  {}
func (nopObserver) SweepFinished(error, time.Duration, map[string]int)     {}

// pipeline holds what every step needs. Each step lives in its own file
// (step_*.go), the step table in steps.go, what runs next in planner.go,
// how a run starts and ends in run.go, how a pipeline ends and what a
// write counts in finish.go, and every retry decision in verdict.go.
type pipeline struct {
	store *store
	api   *swonkie.Client
	// apis are the clients of every workspace this worker serves; a run
	// sees api set to its pipeline's (forWorkspace).
	apis *workspaceAPIs
	// maxActive bounds each workspace's active pipelines (admission.go).
	maxActive *maxActive
	sources   *source.Opener
	enq       *asynq.Client
	insp      *asynq.Inspector
	obs       Observer
	log       zerolog.Logger
	timing    Timing
	now       func() time.Time
	webhook   webhooks
	cancels   *cancelListener
	// mux runs a step inline through the same middleware as a task.
	mux asynq.Handler
	// holder names this worker in sweep claims.
	holder string
	// seenPosts remembers what adoption read of posts.
	seenPosts *postFactsCache
	// sweepEvery is the sweep's interval (0 when this worker runs none).
	sweepEvery time.Duration
	// tracer starts the spans of runs and of what they do (trace.go).
	tracer trace.Tracer
	// checker is pre-flight's (preflight_check.go).
	checker preflightChecker
	// pauses are the fleet's paused workspaces (workspace_pause.go); nil
	// in a pipeline that runs no steps.
	pauses *workspacePauses
}

// enqueue hands n to asynq; see enqueueNext.
func (p *pipeline) enqueue(ctx context.Context, n next, opts ...asynq.Option) error {
	return enqueueNext(ctx, p.enq, p.timing, p.now(), n, opts...)
}

// enqueueNext enqueues the task n with the options of its row. A task id
// conflict means the task exists already (queued, running, or waiting to
// retry): that is success. n.at is read against now, the clock the record
// times were written by, so a test's fake clock stays out of asynq's.
func enqueueNext(ctx context.Context, enq *asynq.Client, t Timing, now time.Time, n next, opts ...asynq.Option) error {
	row := rowOf(n.typ)
	all := []asynq.Option{
		asynq.TaskID(row.id(n.typ, n.pl)),
		asynq.Queue(row.queue),
		// The step's own budget (verdict.go) gives up first, so asynq
		// never archives a task that is only waiting.
		asynq.MaxRetry(asynqMaxRetry(row, t)),
		asynq.Timeout(row.timeout(t)),
	}
	if d := n.at.Sub(now); !n.at.IsZero() && d > 0 {
		all = append(all, asynq.ProcessIn(d))
	}
	handOn(ctx, &n.pl, n.at, now)
	_, err := enq.EnqueueContext(ctx, newTask(n.typ, n.pl), append(all, opts...)...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s for pipeline %s: %w", n.typ, n.pl.PipelineID, err)
	}
	return nil
}

// abandon gives up item i's current media entry (its upload URL is gone,
// or it ended in ERROR): the item starts over in a new generation, which
// the planner hands to a fresh media:upload, and the entry joins the
// stale media, which it hands to a cleanup. It reports whether the item
// may still start over.
func (p *pipeline) abandon(ctx context.Context, r *run, i int, reason string) (bool, error) {
	now := p.now().UTC()
	gen, was := r.rec.Media[i].Generation, r.rec.Media[i].MediaID
	err := r.save(ctx, func(rec *Record) error {
		it := &rec.Media[i]
		// Only the entry this run looked at, and only while the pipeline
		// still wants it: a cancel's cleanup may have deleted it meanwhile.
		if it.Generation != gen || it.MediaID != was || rec.CancelRequested || rec.State.Terminal() {
			return errNoChange
		}
		id := it.MediaID
		if id != "" {
			rec.StaleMedia = append(rec.StaleMedia, StaleMedia{MediaID: id, Item: i, Reason: reason})
		}
		it.MediaID, it.Status, it.Bytes = "", ItemPending, 0
		it.MediaCreatedAt, it.ConfirmedAt, it.ReadyAt = nil, nil, nil
		it.disposal = disposal{}
		it.Generation++
		rec.note(now, StepUpload, &i, "info", fmt.Sprintf("abandoned media %s: %s", id, reason))
		return nil
	})
	if err != nil {
		return false, err
	}
	return r.rec.Media[i].Generation < p.timing.MaxGenerations, nil
}

// restartItem abandons item i's entry so that a fresh one is uploaded, or
// fails the step when the item went through too many.
func (p *pipeline) restartItem(ctx context.Context, r *run, i int, reason string) error {
	id := r.rec.Media[i].MediaID
	ok, err := p.abandon(ctx, r, i, reason)
	if err != nil {
		return err
	}
	if !ok {
		return permanentf("media %s of item %d: %s; gave up after %d media entries", id, i, reason, r.rec.Media[i].Generation)
	}
	r.log.Info().Str("media_id", id).Int("item", i).Msg("handed the item to a fresh media entry: " + reason)
	return nil
}

// setReady records item i as usable, for update functions. The write that
// makes the last item ready is the fan-in: the planner then asks for
// post:attach, and exactly that write sees it appear.
func setReady(r *Record, i int, now time.Time) {
	it := &r.Media[i]
	it.Status = ItemReady
	it.ReadyAt = &now
	if it.ConfirmedAt == nil {
		it.ConfirmedAt = &now
	}
	r.progressed()
	r.note(now, StepAwait, &i, "ok", "media "+it.MediaID+" is ready")
}

// markReady writes setReady unless the item is ready already.
func (p *pipeline) markReady(ctx context.Context, r *run, i int) error {
	now := p.now().UTC()
	id := r.rec.Media[i].MediaID
	return r.save(ctx, func(rec *Record) error {
		if it := rec.Media[i]; it.Status == ItemReady || it.MediaID != id {
			return errNoChange
		}
		setReady(rec, i, now)
		return nil
	})
}

// pollDelay grows the wait between two looks with the time already
// waited, between first and max: polls stay stateless (the same task id
// retried), yet back off.
func pollDelay(first, max, waited time.Duration) time.Duration {
	return min(max, (waited/2).Truncate(time.Second)+first)
}

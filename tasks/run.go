package tasks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tracing"
)

// run is one run of a step: a task asynq handed out, or a step run inline
// right after the one that made it needed. It reads the record before
// acting (docs/design.md, I1), writes through save, and ends by handing
// the work its writes made needed to asynq (or running it inline).
type run struct {
	p   *pipeline
	row *step
	pl  Payload
	rec *Record
	log zerolog.Logger
	// id tells this run from any other, in claims.
	id string
	// retried counts this task's failed runs before this one.
	retried int
	// depth is 0 for a task asynq handed out, n for the n-th step run
	// inline after it.
	depth int
	// work is what this run's writes made needed (planner.go newWork).
	work  []next
	wrote bool
	// claimed is when this run last took or renewed the post claim, by
	// this process's monotonic clock: only the time since is read.
	claimed time.Time
}

// maxInlineDepth bounds how many steps one task runs one after another.
const maxInlineDepth = 4

// inlineKey carries, into a step run inline, its depth and the record as
// the run before it left it: the inline step starts from that instead of
// reading it again (a write by anyone else since makes its first
// compare-and-set re-read, as always).
type inlineKey struct{}

type inlineRun struct {
	depth int
	rec   *Record
}

// handler is the asynq handler of a step.
func (p *pipeline) handler(row *step) asynq.HandlerFunc {
	return func(ctx context.Context, t *asynq.Task) error {
		pl, err := taskPayload(ctx, t)
		if err != nil {
			p.log.Error().Err(err).Str("task_type", t.Type()).Msg("dropping task with a bad payload")
			return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
		}
		r := &run{p: p, row: row, pl: pl, id: newRunID()}
		if in, ok := ctx.Value(inlineKey{}).(inlineRun); ok {
			r.depth = in.depth
			if in.rec != nil && in.rec.ID == pl.PipelineID {
				r.rec = cloneRecord(in.rec)
			}
		} else {
			r.retried, _ = asynq.GetRetryCount(ctx)
		}
		return r.do(ctx)
	}
}

func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// errCancelled is the cause of a run's context ending because its
// pipeline was cancelled.
var errCancelled = errors.New("pipeline cancelled")

func (r *run) do(ctx context.Context) error {
	p := r.p
	r.log = tracing.Logger(ctx, p.log.With().Str("task_type", r.row.typ).Str("pipeline_id", r.pl.PipelineID).
		Int("attempt", r.retried+1).Bool("inline", r.depth > 0).Logger())
	rec, err := r.rec, error(nil)
	if rec == nil {
		rec, err = p.store.get(ctx, r.pl.PipelineID)
	}
	if errors.Is(err, ErrNotFound) {
		r.log.Warn().Msg("pipeline record is gone (retention); nothing to do")
		return nil
	}
	if err != nil {
		return &stepError{v: verdict{kind: retryLater}, err: fmt.Errorf("%s: read pipeline %s: %w", r.row.step, r.pl.PipelineID, err)}
	}
	r.rec = rec
	if !r.row.terminal && rec.windingUp() {
		// The step is not needed any more, but what the pipeline still
		// owes (its cleanup, its webhook) may be: the run that made it
		// owed may have died before handing it on.
		r.log.Debug().Str("state", string(rec.State)).Msg("pipeline is over; step skipped")
		r.follow(ctx, true)
		return nil
	}
	if !r.row.terminal && r.pl.Attempt < rec.Replays {
		// A task of an attempt before a replay: the replay planned its own.
		r.log.Debug().Int("replays", rec.Replays).Msg("task of an earlier attempt; skipped")
		r.follow(ctx, true)
		return nil
	}
	if r.row.step == StepCleanup && endsWithNothingToUndo(rec, p.now().UTC()) {
		// A cancel with nothing made yet calls nothing in Swonkie: the
		// write that settles it ends it here, whether or not its
		// workspace is paused or served, instead of leaving it pending
		// ("cancel requested") until a resume that may never come.
		if err := r.save(ctx, func(*Record) error { return errNoChange }); err != nil {
			return r.failed(ctx, wrap(err, "%s: end cancelled pipeline %s", r.row.step, rec.ID))
		}
		r.follow(ctx, true)
		return nil
	}
	if wp, ok := p.forWorkspace(rec); ok {
		p = wp
	} else if r.row.step != StepNotify {
		// A workspace removed from the file, or not in this worker's yet:
		// the pipeline waits for a worker that serves it (or a reload).
		err := waitFor(workspaceWait, "%s: workspace %q is not served by this worker; waiting for it to be configured", r.row.step, workspaceOf(rec))
		r.log.Warn().Str("workspace", workspaceOf(rec)).Msg("pipeline of a workspace this worker does not serve waits")
		return r.failed(ctx, err)
	}
	r.p = p
	if err := r.pausedWait(rec); err != nil {
		return r.failed(ctx, err)
	}
	release, err := p.admit(ctx, r, workspaceOf(rec))
	if err != nil {
		// Its workspace has its maxActive pipelines active: the run gives
		// its slot back until its turn.
		return r.failed(ctx, err)
	}
	defer release()
	if r.depth == 0 {
		p.obs.ActivePipeline(workspaceOf(rec), 1)
		defer p.obs.ActivePipeline(workspaceOf(rec), -1)
	}
	stepCtx, stop := p.cancels.watch(ctx, rec.ID)
	// A call whose workspace's budget is spent for longer than
	// budgetHold gives the slot back too (admission.go).
	err = r.row.run(p, swonkie.HoldAtMost(stepCtx, budgetHold), r)
	cancelled := errors.Is(context.Cause(stepCtx), errCancelled)
	stop()
	// Bookkeeping outlives the step: a step that ran out of time or was
	// cancelled still records why and hands on its work.
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	switch {
	case err != nil && cancelled && !r.row.terminal:
		r.log.Info().Err(err).Msg("step interrupted: the pipeline was cancelled; its cleanup takes over")
		err = nil
	case err != nil:
		err = r.failed(bctx, err)
	}
	r.follow(bctx, err == nil)
	return err
}

// save writes a change of the record (fn, pure) as the step's progress and
// collects what the write made needed.
func (r *run) save(ctx context.Context, fn func(*Record) error) error {
	now := r.p.now().UTC()
	work, err := r.p.write(ctx, r.rec, func(rec *Record) error {
		if err := fn(rec); err != nil {
			return err
		}
		rec.in.ProgressAt = now
		return nil
	})
	if err != nil {
		return err
	}
	if work != nil {
		r.wrote = true
		r.work = addNext(r.work, work...)
	}
	return nil
}

// failed records a step's error on the pipeline and turns it into the
// verdict asynq acts on (verdict.go decide): retried (with a backoff, or a
// wait that is not counted), or given up. What a failed run leaves on the
// record besides its error is the step table's onFailure: a pipeline step
// that gives up fails its pipeline, which settle then ends.
func (r *run) failed(ctx context.Context, stepErr error) error {
	stepErr = r.pauseOnRefusal(ctx, stepErr)
	now := r.p.now().UTC()
	var owedSince time.Time
	if r.row.owedSince != nil {
		owedSince = r.row.owedSince(r.rec, r.pl)
	}
	v := decide(r.row, stepErr, r.retried, r.p.timing, owedSince, now)
	out := &stepError{v: v, err: stepErr}
	if reason, ok := deferralReason(stepErr); ok && r.rec != nil {
		r.p.obs.RunDeferred(workspaceOf(r.rec), reason)
	}
	if v.kind == pollAgain {
		r.log.Debug().Str("again_in", v.delay.String()).Msg(stepErr.Error())
		return out
	}
	msg := stepErr.Error()
	var item *int
	if isMediaStep(r.row.step) {
		i := r.pl.Item
		item = &i
	}
	perm := IsPermanent(stepErr)
	err := r.save(ctx, func(rec *Record) error {
		// A step of a pipeline that ended or is being cancelled meanwhile
		// is moot: its cleanup decides how the pipeline ends.
		if rec.windingUp() && !r.row.terminal {
			return errNoChange
		}
		rec.Attempts++
		// The record's error is the pipeline's: a webhook or a stale
		// media's cleanup retrying is not what a person looking at a
		// running pipeline needs to see as its last error.
		if !rec.State.Terminal() && !r.row.terminal {
			rec.Error = &StepError{Step: r.row.step, Status: statusOf(stepErr), Message: msg, Permanent: perm, At: now}
		}
		if r.row.onFailure != nil {
			r.row.onFailure(rec, r.pl, stepErr, v.kind == giveUp, now)
		}
		rec.note(now, r.row.step, item, v.kind.String(), msg)
		return nil
	})
	if err != nil {
		r.log.Error().Err(err).AnErr("step_error", stepErr).Msg("could not record the step's failure")
	}
	ev := r.log.Warn()
	if v.kind == giveUp {
		ev = r.log.Error()
	}
	ev.Err(stepErr).Int("status", statusOf(stepErr)).Bool("permanent", perm).Str("verdict", v.kind.String()).Msg("step failed")
	return out
}

// follow hands on what this run's writes made needed and the record still
// plans: steps that may run inline run now (when this one succeeded), the
// rest are enqueued.
//
// A run that wrote nothing found its work done by an earlier one, which
// may have died before handing on: it enqueues everything the record
// plans, and runs none of it inline. Only the write that made a task
// needed (newWork: exactly one compare-and-set sees it appear) may run it
// inline; anyone else goes through asynq, whose task ids refuse a second
// copy of a live task (docs/design.md, I1).
func (r *run) follow(ctx context.Context, ok bool) {
	p := r.p
	if r.rec == nil {
		return
	}
	planned := plan(r.rec, p.timing)
	work := r.work
	recovering := ok && !r.wrote
	if recovering {
		work = addNext(work, planned...)
	}
	self := r.row.id(r.row.typ, r.pl)
	now := p.now()
	for _, n := range work {
		id := n.id()
		if id == self && r.depth == 0 {
			continue // asynq holds this task until it returns
		}
		if !plannedHas(planned, id) {
			continue // made needed, then done or overtaken within this run
		}
		var opts []asynq.Option
		if ok && !recovering && inlines(n, work) && !n.at.After(now) && r.depth < maxInlineDepth && p.mux != nil {
			done, delay := p.runInline(ctx, n, inlineRun{depth: r.depth + 1, rec: r.rec})
			if done {
				continue
			}
			opts = append(opts, asynq.ProcessIn(delay))
		}
		if err := p.enqueue(ctx, n, opts...); err != nil {
			r.log.Error().Err(err).Str("next", n.typ).Msg("could not hand on the next step; the sweep will")
		}
	}
}

// inlines says whether n, among the work one write made needed, may run
// inline (the step table's inline and inlineAlone).
func inlines(n next, work []next) bool {
	row := rowOf(n.typ)
	if row.inline {
		return true
	}
	if !row.inlineAlone {
		return false
	}
	same := 0
	for _, w := range work {
		if w.typ == n.typ {
			same++
		}
	}
	return same == 1
}

func plannedHas(list []next, id string) bool {
	for _, n := range list {
		if n.id() == id {
			return true
		}
	}
	return false
}

// runInline runs n right away in this task, through the same middleware
// as a task (so it is counted as one). It reports whether n is done with:
// it succeeded, or it gave up (its own run handed on what that made
// needed). Otherwise n must be enqueued, after delay.
func (p *pipeline) runInline(ctx context.Context, n next, in inlineRun) (bool, time.Duration) {
	row := rowOf(n.typ)
	ictx, cancel := context.WithTimeout(context.WithValue(ctx, inlineKey{}, in), row.timeout(p.timing))
	defer cancel()
	err := p.mux.ProcessTask(ictx, newTask(n.typ, n.pl))
	if err == nil {
		return true, 0
	}
	if judge(err).kind == giveUp {
		return true, 0
	}
	return false, p.timing.retryDelay(0, err, nil)
}

// endsWithNothingToUndo reports whether rec is a cancel that the next
// write ends cancelled owing Swonkie nothing: no media, no post, no search
// for one, no stale entry or duplicate to delete.
func endsWithNothingToUndo(rec *Record, now time.Time) bool {
	if !rec.CancelRequested || rec.State.Terminal() {
		return false
	}
	draft := cloneRecord(rec)
	settle(draft, now, "")
	return draft.State == StateCancelled && !draft.owesCleanup()
}

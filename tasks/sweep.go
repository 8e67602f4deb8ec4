package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/tracing"
)

// SweepResult is what one sweep did. The last ones are kept in Redis
// (Client.Sweeps) so an operator can see the cleanup is alive.
type SweepResult struct {
	Slot      string    `json:"slot"`
	Holder    string    `json:"holder"`
	StartedAt time.Time `json:"startedAt"`
	Duration  string    `json:"duration"`
	// Refreshed: pipelines past their due time whose tasks all exist (in
	// a backlog, waiting for a retry or a publishAt): looked at later.
	Refreshed int `json:"refreshed"`
	// Kicked: pipelines whose missing tasks were enqueued again.
	Kicked int `json:"kicked"`
	// StuckFailed: pipelines failed because none of their tasks existed
	// after a kick and they made no progress for STUCK_AFTER.
	StuckFailed int `json:"stuckFailed"`
	// Reindexed: index entries that pointed at a gone or finished record.
	Reindexed int `json:"reindexed"`
	// CleanupRetried, WebhookRetried: finished pipelines whose cleanup or
	// webhook task was lost, enqueued again.
	CleanupRetried int `json:"cleanupRetried"`
	WebhookRetried int `json:"webhookRetried"`
	// RetentionDeleted: finished records past RETENTION, deleted.
	RetentionDeleted int `json:"retentionDeleted"`
	// RetentionLeft: the sweep's time budget ran out with more records
	// due for deletion; the next sweep goes on.
	RetentionLeft bool `json:"retentionLeft,omitempty"`
	// Migrated: records moved from the old key layout.
	Migrated int    `json:"migrated,omitempty"`
	Error    string `json:"error,omitempty"`
}

const (
	sweepBatch    = 200
	sweepClaimTTL = 24 * time.Hour
	sweepsKept    = 50
	// sweepBudget bounds one sweep's retention work; what is left waits
	// for the next slot (and the result says so).
	sweepBudget = 20 * time.Second
	// expireBatch is how many records one retention command deletes.
	// Small, so that command stays short at a million records (make
	// bench -scale: at 200 a busy Redis took 12 ms over one, more than
	// the 10 ms any one command may block everyone else).
	expireBatch = 50
	// owedBatches bounds the owed entries (cleanups, webhooks) one sweep
	// reads in a shard, sweepBatch at a time: 4,000 a shard, 64,000 in
	// all, each a task lookup; past the first batch, only within
	// sweepBudget (real time) a shard and kind.
	owedBatches = 20
)

// sweep is cleanup:sweep, run once per time slot whatever the number of
// workers: the slot is claimed in Redis first, and a worker that loses the
// claim does nothing.
func (p *pipeline) sweep(ctx context.Context, t *asynq.Task) error {
	pl, err := taskPayload(ctx, t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	log := p.log.With().Str("task_type", t.Type()).Str("slot", pl.Slot).Logger()
	ok, err := p.store.rdb.ClaimSweep(ctx, pl.Slot, p.holder, sweepClaimTTL)
	if err != nil {
		// Not retried (the step table's budget): the next slot sweeps.
		return &stepError{v: decide(rowOf(TypeCleanupSweep), err, 0, p.timing, time.Time{}, p.now()), err: err}
	}
	if !ok {
		holder, _ := p.store.rdb.SweepHolder(ctx, pl.Slot)
		log.Info().Str("holder", holder).Msg("sweep slot already claimed; skipping")
		return nil
	}
	start := p.now()
	res := SweepResult{Slot: pl.Slot, Holder: p.holder, StartedAt: start.UTC()}
	err = p.runSweep(ctx, &res)
	d := p.now().Sub(start)
	res.Duration = d.Round(time.Millisecond).String()
	if err != nil {
		res.Error = err.Error()
	}
	if b, jerr := json.Marshal(res); jerr == nil {
		if rerr := p.store.rdb.RecordSweep(ctx, b, sweepsKept); rerr != nil {
			log.Warn().Err(rerr).Msg("could not record sweep result")
		}
	}
	p.obs.SweepFinished(err, d, res.acted())
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	ev.Int("refreshed", res.Refreshed).Int("kicked", res.Kicked).Int("stuck_failed", res.StuckFailed).
		Int("cleanup_retried", res.CleanupRetried).Int("webhook_retried", res.WebhookRetried).
		Int("retention_deleted", res.RetentionDeleted).Bool("retention_left", res.RetentionLeft).
		Int("reindexed", res.Reindexed).Int64("took_ms", d.Milliseconds()).Msg("sweep finished")
	// A failed sweep is not retried: the next slot does the same work.
	return nil
}

// acted is the result as mediaflow_sweep_pipelines_total counts it.
func (r *SweepResult) acted() map[string]int {
	return map[string]int{
		"kicked":            r.Kicked,
		"stuck_failed":      r.StuckFailed,
		"cleanup_retried":   r.CleanupRetried,
		"webhook_retried":   r.WebhookRetried,
		"retention_deleted": r.RetentionDeleted,
		"reindexed":         r.Reindexed,
	}
}

// runSweep is one sweep's work, shard by shard: pipelines past their due
// time, finished ones still owing a cleanup or a webhook, retention, and
// records left in the old layout. Tests call it directly on a fake clock.
func (p *pipeline) runSweep(ctx context.Context, res *SweepResult) error {
	now := p.now()
	var errs []error
	for shard := range rdb.Shards {
		if err := p.sweepDue(ctx, res, shard, now); err != nil {
			errs = append(errs, fmt.Errorf("sweep overdue pipelines: %w", err))
		}
		cutoff := now.Add(-p.timing.CleanupRetryAfter)
		if err := p.sweepOwed(ctx, res, shard, cutoff); err != nil {
			errs = append(errs, fmt.Errorf("sweep owed cleanups and webhooks: %w", err))
		}
	}
	if err := p.sweepRetention(ctx, res, now); err != nil {
		errs = append(errs, fmt.Errorf("sweep expired records: %w", err))
	}
	if err := p.sweepLegacy(ctx, res); err != nil {
		errs = append(errs, fmt.Errorf("migrate old records: %w", err))
	}
	return errors.Join(errs...)
}

// sweepDue looks at every running pipeline past its due time.
func (p *pipeline) sweepDue(ctx context.Context, res *SweepResult, shard int, now time.Time) error {
	ids, err := p.store.rdb.Due(ctx, shard, now.Add(-p.timing.PendingKick), sweepBatch*10)
	if err != nil {
		return err
	}
	// A record that cannot be looked at (one this worker cannot read, a
	// write refused) is reported and passed: it stays the shard's oldest
	// due entry, so stopping there would stop every later sweep of the
	// shard at it too, and none of the pipelines due after it would ever
	// be kicked or failed as stuck.
	var errs recordErrors
	for _, id := range ids {
		if ctx.Err() != nil || errs.add(p.sweepOne(ctx, res, id, now)) {
			break
		}
	}
	return errs.err(ctx)
}

// recordErrors collects the errors of the records one pass of the sweep
// looked at, so one record's error does not stop the pass: the first
// few are kept, the rest counted. add says when to stop all the same:
// after recordErrorsInARow errors in a row, which are Redis's (down,
// refusing writes) rather than a record's, and would be met again, each
// after its timeouts, by every record left. A record this worker cannot
// read is its own error however many there are, never counted in a row.
type recordErrors struct {
	kept  []error
	n     int
	inRow int
}

const (
	recordErrorsKept   = 5
	recordErrorsInARow = 3
)

func (e *recordErrors) add(err error) (stop bool) {
	if err == nil {
		e.inRow = 0
		return false
	}
	if e.n++; len(e.kept) < recordErrorsKept {
		e.kept = append(e.kept, err)
	}
	var unreadable unreadableError
	if !errors.As(err, &unreadable) {
		e.inRow++
	}
	return e.inRow >= recordErrorsInARow
}

func (e *recordErrors) err(ctx context.Context) error {
	errs := append([]error(nil), e.kept...)
	if e.n > len(e.kept) {
		errs = append(errs, fmt.Errorf("and %d more records", e.n-len(e.kept)))
	}
	return errors.Join(append(errs, ctx.Err())...)
}

// sweepOne decides about one running pipeline past its due time:
//
//   - every task the planner says it needs exists in asynq (pending,
//     scheduled, retrying, active): it is waiting, not stuck; look again
//     later;
//   - some are missing (a worker died before handing on, someone deleted
//     tasks by hand, Redis lost them): enqueue them again (task ids make
//     that safe) and note the kick;
//   - none exists after a kick, and nothing moved for STUCK_AFTER: it
//     cannot move; fail it (its compensation runs as for any failure),
//     unless it is ending already (wantsWithdrawal): kick it again.
func (p *pipeline) sweepOne(ctx context.Context, res *SweepResult, id string, now time.Time) error {
	rec, err := p.store.get(ctx, id)
	if errors.Is(err, ErrNotFound) || (err == nil && rec.State.Terminal()) {
		if _, err := p.store.rdb.Repair(ctx, id); err != nil {
			return err
		}
		res.Reindexed++
		return nil
	}
	if err != nil {
		return err
	}
	later := p.lookAgain(now)
	needed := plan(rec, p.timing)
	live, missing, err := p.taskStates(ctx, rec, needed)
	if err != nil {
		return err
	}
	if len(missing) == 0 {
		res.Refreshed++
		return p.store.rdb.SetDue(ctx, id, later)
	}
	progress := rec.in.ProgressAt
	if progress.IsZero() {
		// Nothing written yet in this attempt: it is as old as its
		// start (a replay's, not the pipeline's creation days ago).
		progress = rec.attemptStart()
	}
	kicked := rec.in.KickedAt.After(progress)
	// A pipeline already ending (a cancel asked for, or a step that gave
	// up on a post that may still go out) needs nothing but its cleanup,
	// which failing it would ask for too: it is kicked again, never failed
	// as stuck, which turned a cancel into a failure and overwrote the
	// error a step gave up with.
	if live == 0 && kicked && now.Sub(progress) >= p.timing.StuckAfter && !rec.wantsWithdrawal() {
		res.StuckFailed++
		return p.failStuck(ctx, rec, now)
	}
	if err := p.kick(ctx, rec, missing, now); err != nil {
		return err
	}
	res.Kicked++
	return p.store.rdb.SetDue(ctx, id, later)
}

// lookAgain is the due entry of a pipeline the sweep looked at now. The
// due index holds since when PENDING_KICK_AFTER counts (a record's
// creation, then the sweep's last look), so that the setting of the
// workers that sweep decides, never the one of whoever enqueued. The next
// look comes after the next sweep would have come: a pipeline that waits
// is then never "past its due time" (mediaflow_pipelines_stuck) between
// two sweeps, only when the sweeps stop.
func (p *pipeline) lookAgain(now time.Time) time.Time {
	return now.Add(max(0, p.sweepEvery-p.timing.PendingKick))
}

// taskStates says how many of the tasks in needed exist in asynq in a
// live state (or, for an upload, may be running inline: uploadInFlight),
// and which do not (with any finished copy deleted, so that enqueueing
// them again is not refused).
func (p *pipeline) taskStates(ctx context.Context, rec *Record, needed []next) (int, []next, error) {
	live := 0
	var missing []next
	for _, n := range needed {
		inFlight, err := p.uploadInFlight(ctx, rec, n)
		if err != nil {
			return 0, nil, err
		}
		if inFlight {
			live++
			continue
		}
		ok, err := p.taskLive(ctx, n)
		if err != nil {
			return 0, nil, err
		}
		if ok {
			live++
		} else {
			missing = append(missing, n)
		}
	}
	return live, missing, nil
}

// uploadInFlight reports whether n is an upload whose run may still be
// sending the file: its entry is made and not uploaded, and the task that
// run is part of (in.UploadHost) is live. The run may be inline, inside
// another task (a single media's upload runs inside its pre-flight's),
// which asynq knows nothing of as this step's: enqueued again, a second
// run would abandon the entry from under the upload and send the file
// again. A run that died leaves that task to asynq's recovery, whose run
// hands the upload on; one whose host finished (its last write lost) is
// kicked.
func (p *pipeline) uploadInFlight(ctx context.Context, rec *Record, n next) (bool, error) {
	if n.typ != TypeMediaUpload || n.pl.Item < 0 || n.pl.Item >= len(rec.Media) {
		return false, nil
	}
	it := rec.Media[n.pl.Item]
	host := rec.in.uploadHost(n.pl.Item)
	queue, id, ok := strings.Cut(host, "/")
	if it.Status != ItemCreated || it.Generation != n.pl.Generation || !ok {
		return false, nil
	}
	info, err := p.insp.GetTaskInfo(queue, id)
	if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look up task %s sending the file of item %d: %w", id, n.pl.Item, err)
	}
	return info.State != asynq.TaskStateCompleted && info.State != asynq.TaskStateArchived, nil
}

// taskLive reports whether n's task (or, during a rolling upgrade, its
// version-1 twin) is pending, scheduled, retrying or active. A copy that
// completed or was archived is deleted.
func (p *pipeline) taskLive(ctx context.Context, n next) (bool, error) {
	queue := rowOf(n.typ).queue
	ids := []string{n.id()}
	if legacy, ok := legacyTaskID(n.typ, n.pl); ok {
		ids = append(ids, legacy)
	}
	for _, id := range ids {
		info, err := p.insp.GetTaskInfo(queue, id)
		if errors.Is(err, asynq.ErrTaskNotFound) || errors.Is(err, asynq.ErrQueueNotFound) {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("look up task %s: %w", id, err)
		}
		switch info.State {
		case asynq.TaskStateCompleted, asynq.TaskStateArchived:
			if id == n.id() {
				if err := p.insp.DeleteTask(queue, id); err != nil && !errors.Is(err, asynq.ErrTaskNotFound) {
					return false, fmt.Errorf("delete finished task %s: %w", id, err)
				}
			}
		default:
			return true, nil
		}
	}
	return false, ctx.Err()
}

// kick enqueues the missing tasks and notes when (a kick is not progress:
// "stuck" still counts from the last step's write).
func (p *pipeline) kick(ctx context.Context, rec *Record, missing []next, now time.Time) error {
	if err := p.enqueueFor(ctx, rec, missing); err != nil {
		return err
	}
	_, err := p.store.update(ctx, rec, func(r *Record) error {
		r.in.KickedAt = now.UTC()
		return nil
	})
	p.log.Info().Str("pipeline_id", rec.ID).Int("tasks", len(missing)).Msg("sweep enqueued the missing tasks of a pipeline")
	return err
}

// enqueueFor enqueues the sweep's tasks for rec inside a span of the
// pipeline's trace (trace.go startFor), so they join it.
func (p *pipeline) enqueueFor(ctx context.Context, rec *Record, tasks []next) (err error) {
	ctx, span := startFor(ctx, p.tracer, rec, p.now(), spanKick)
	defer func() { tracing.End(span, err) }()
	for _, n := range tasks {
		if err := p.enqueue(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// failStuck gives up on a pipeline that cannot move (settle fails it), and
// hands on what that makes needed (its compensation, its webhook).
func (p *pipeline) failStuck(ctx context.Context, rec *Record, now time.Time) (err error) {
	ctx, span := startFor(ctx, p.tracer, rec, now, spanGiveUp)
	defer func() { tracing.End(span, err) }()
	now = now.UTC()
	work, err := p.write(ctx, rec, func(r *Record) error {
		if r.State.Terminal() {
			return errNoChange
		}
		msg := fmt.Sprintf("stuck in step %s: no task of it existed after a kick, and no progress for %s", r.Step, p.timing.StuckAfter)
		r.Error = &StepError{Step: r.Step, Message: msg, At: now}
		r.note(now, r.Step, nil, giveUp.String(), msg)
		r.in.GaveUp = true
		return nil
	})
	if err != nil {
		return err
	}
	for _, n := range work {
		if err := p.enqueue(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// sweepOwed re-enqueues the cleanups and webhooks of finished pipelines
// whose task was lost (owed since before cutoff).
func (p *pipeline) sweepOwed(ctx context.Context, res *SweepResult, shard int, cutoff time.Time) error {
	for _, kind := range []struct {
		ids     func(context.Context, int, time.Time, *rdb.OwedCursor, int) ([]string, error)
		counter *int
	}{
		{p.store.rdb.CleanupOwed, &res.CleanupRetried},
		{p.store.rdb.NotifyOwed, &res.WebhookRetried},
	} {
		// The whole index past the cutoff, a batch at a time: an owed
		// entry does not move while its task is alive (retrying for a
		// receiver that is down, waiting on a publication), so reading
		// only the oldest batch would leave every record behind it whose
		// task was lost waiting until those ended, a day later.
		var cur rdb.OwedCursor
		// As in sweepDue: one record's error is reported and passed, or
		// the oldest owed entry would stop the shard's retries for good.
		var errs recordErrors
		start := time.Now() // real time, whatever the sweep's clock says
		for batch := range owedBatches {
			// Past the oldest batch, only while the sweep's budget lasts.
			if batch > 0 && time.Since(start) > sweepBudget {
				break
			}
			ids, err := kind.ids(ctx, shard, cutoff, &cur, sweepBatch)
			if err != nil {
				errs.add(err)
				break
			}
			stop := false
			for _, id := range ids {
				if stop = ctx.Err() != nil || errs.add(p.sweepOwedOne(ctx, res, id, kind.counter)); stop {
					break
				}
			}
			if stop || len(ids) < sweepBatch {
				break
			}
		}
		if err := errs.err(ctx); err != nil {
			return err
		}
	}
	return nil
}

// sweepOwedOne enqueues again the cleanup or webhook task of one finished
// pipeline owing it whose task is lost, counting it in counter.
func (p *pipeline) sweepOwedOne(ctx context.Context, res *SweepResult, id string, counter *int) error {
	rec, err := p.store.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		if _, err := p.store.rdb.Repair(ctx, id); err != nil {
			return err
		}
		res.Reindexed++
		return nil
	}
	if err != nil {
		return err
	}
	var owed []next
	for _, n := range plan(rec, p.timing) {
		if n.typ == TypeMediaCleanup || n.typ == TypeNotifyWebhook {
			owed = append(owed, n)
		}
	}
	_, missing, err := p.taskStates(ctx, rec, owed)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		if err := p.enqueueFor(ctx, rec, missing); err != nil {
			return err
		}
		*counter++
	}
	return nil
}

// sweepRetention deletes finished records older than RETENTION through the
// list of records that came to owe nothing, in batches, until none is left
// or the sweep's time budget is spent: unfinished records, however old,
// are not in that list and never hold it up.
func (p *pipeline) sweepRetention(ctx context.Context, res *SweepResult, now time.Time) error {
	cutoff := now.Add(-p.timing.Retention)
	start := time.Now() // the budget is real time, whatever the clock says
	for shard := range rdb.Shards {
		for {
			if time.Since(start) > sweepBudget {
				res.RetentionLeft = true
				return nil
			}
			deleted, looked, err := p.store.rdb.Expire(ctx, shard, now, cutoff, expireBatch)
			if err != nil {
				return err
			}
			res.RetentionDeleted += deleted
			if looked < expireBatch {
				break
			}
		}
	}
	return nil
}

// sweepLegacy moves a batch of old-layout records to the new one.
func (p *pipeline) sweepLegacy(ctx context.Context, res *SweepResult) error {
	ids, err := p.store.rdb.LegacyIDs(ctx, sweepBatch)
	if err != nil {
		return err
	}
	// As in sweepDue: one old record's error is reported and passed; it
	// stays first in the old index, and every later sweep would stop
	// there too.
	var errs recordErrors
	for _, id := range ids {
		if ctx.Err() != nil || errs.add(p.migrateOne(ctx, res, id)) {
			break
		}
	}
	return errs.err(ctx)
}

// migrateOne moves one old-layout record, or drops its index entries when
// it is gone.
func (p *pipeline) migrateOne(ctx context.Context, res *SweepResult, id string) error {
	moved, err := p.store.migrate(ctx, id)
	if err != nil {
		return err
	}
	if !moved {
		// An index entry without its record: drop it.
		return p.store.rdb.LegacyForget(ctx, id)
	}
	res.Migrated++
	return nil
}

package tasks

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
)

// SweepResult is what one sweep did. The last ones are kept in Redis
// (Client.Sweeps) so an operator can see the cleanup is alive.
type SweepResult struct {
	Slot      string    `json:"slot"`
	Holder    string    `json:"holder"`
	StartedAt time.Time `json:"startedAt"`
	Duration  string    `json:"duration"`
	// Kicked: pending pipelines whose first steps were enqueued again.
	Kicked int `json:"kicked"`
	// StuckFailed: pipelines failed for making no progress.
	StuckFailed int `json:"stuckFailed"`
	// Refreshed: due entries of pipelines that were moving after all.
	Refreshed int `json:"refreshed"`
	// Reindexed: index entries a crash left pointing the wrong way.
	Reindexed int `json:"reindexed"`
	// CleanupRetried: cleanups owed for too long, enqueued again.
	CleanupRetried int `json:"cleanupRetried"`
	// RetentionDeleted: terminal records past retention, deleted.
	RetentionDeleted int    `json:"retentionDeleted"`
	Error            string `json:"error,omitempty"`
}

const (
	sweepBatch      = 200
	sweepMaxBatches = 25
	sweepClaimTTL   = 24 * time.Hour
	sweepsKept      = 50
)

// sweep is cleanup:sweep, run once per time slot whatever the number of
// workers: the slot is claimed in Redis first, and a worker that loses the
// claim does nothing.
func (p *pipeline) sweep(ctx context.Context, t *asynq.Task) error {
	pl, err := decodePayload(t)
	if err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	log := p.log.With().Str("task_type", t.Type()).Str("slot", pl.Slot).Logger()
	ok, err := p.store.rdb.ClaimSweep(ctx, pl.Slot, p.holder, sweepClaimTTL)
	if err != nil {
		return err
	}
	if !ok {
		holder, _ := p.store.rdb.SweepHolder(ctx, pl.Slot)
		log.Info().Str("holder", holder).Msg("sweep slot already claimed; skipping")
		return nil
	}
	start := p.now()
	res := SweepResult{Slot: pl.Slot, Holder: p.holder, StartedAt: start.UTC()}
	err = p.runSweep(ctx, &res, start)
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
	p.obs.SweepFinished(err, d, map[string]int{
		"kicked":            res.Kicked,
		"stuck_failed":      res.StuckFailed,
		"cleanup_retried":   res.CleanupRetried,
		"retention_deleted": res.RetentionDeleted,
		"reindexed":         res.Reindexed,
	})
	ev := log.Info()
	if err != nil {
		ev = log.Error().Err(err)
	}
	ev.Int("kicked", res.Kicked).Int("stuck_failed", res.StuckFailed).Int("cleanup_retried", res.CleanupRetried).
		Int("retention_deleted", res.RetentionDeleted).Int("reindexed", res.Reindexed).Dur("took", d).Msg("sweep finished")
	// A failed sweep is not retried: the next slot does the same work.
	return nil
}

func (p *pipeline) runSweep(ctx context.Context, res *SweepResult, now time.Time) error {
	if err := p.sweepDue(ctx, res, now); err != nil {
		return fmt.Errorf("sweep overdue pipelines: %w", err)
	}
	if err := p.sweepCleanups(ctx, res, now); err != nil {
		return fmt.Errorf("sweep unfinished cleanups: %w", err)
	}
	if err := p.sweepRetention(ctx, res, now); err != nil {
		return fmt.Errorf("sweep expired records: %w", err)
	}
	return nil
}

// sweepDue looks at every pipeline past its due time: a pending one gets
// its first steps enqueued again, a running one that did move gets a new
// due time, and one that did not move for StuckAfter fails.
func (p *pipeline) sweepDue(ctx context.Context, res *SweepResult, now time.Time) error {
	for range sweepMaxBatches {
		recs, ids, err := p.loadIndex(ctx, res, func() ([]string, error) { return p.store.rdb.Due(ctx, now, sweepBatch) })
		if err != nil {
			return err
		}
		for _, rec := range recs {
			if err := p.sweepOne(ctx, res, rec, now); err != nil {
				return err
			}
		}
		if len(ids) < sweepBatch {
			return nil
		}
	}
	return nil
}

func (p *pipeline) sweepOne(ctx context.Context, res *SweepResult, rec *Record, now time.Time) error {
	if rec.State.Terminal() {
		res.Reindexed++
		return p.store.rdb.Reindex(ctx, rec.ID, stateNames(), meta(rec))
	}
	// The record's own due time wins over the index's: a crash between a
	// record write and its index update leaves the index behind (a post
	// scheduled days ahead is not stuck).
	moved := rec.UpdatedAt.Add(p.timing.StuckAfter)
	if rec.DueAt.After(moved) {
		moved = rec.DueAt
	}
	if moved.After(now) && rec.State != StatePending {
		res.Refreshed++
		return p.store.rdb.SetDue(ctx, rec.ID, moved)
	}
	if rec.State == StatePending && now.Sub(rec.CreatedAt) < p.timing.StuckAfter {
		// Accepted but never started: the enqueue after the record write
		// may have been lost with its process. Task ids make this safe.
		for i, it := range rec.Media {
			if err := p.enqueue(ctx, TypeMediaUpload, Payload{PipelineID: rec.ID, Item: i, Generation: it.Generation}); err != nil {
				return err
			}
		}
		res.Kicked++
		return p.store.rdb.SetDue(ctx, rec.ID, minTime(now.Add(p.timing.PendingKick), rec.CreatedAt.Add(p.timing.StuckAfter)))
	}
	msg := fmt.Sprintf("stuck in step %s: no progress since %s (stuck cap %s)",
		rec.Step, rec.UpdatedAt.Format(time.RFC3339), p.timing.StuckAfter)
	step := rec.Step
	failedNow := false
	err := p.store.update(ctx, rec, func(r *Record) error {
		failedNow = false
		if r.State.Terminal() {
			return errNoChange
		}
		failedNow = true
		r.Error = &StepError{Step: r.Step, Message: msg, Permanent: true, At: now.UTC()}
		r.finish(StateFailed, now.UTC())
		r.settleCleanup()
		r.note(now.UTC(), r.Step, nil, "failed", msg)
		return nil
	})
	if err != nil {
		return err
	}
	if !failedNow {
		return nil
	}
	res.StuckFailed++
	p.log.Warn().Str("pipeline_id", rec.ID).Str("step", string(step)).Msg(msg)
	p.obs.PipelineFinished(string(StateFailed), string(step))
	if rec.owesCleanup() {
		return p.enqueueCleanup(ctx, rec, "compensation")
	}
	return nil
}

// sweepCleanups enqueues again the cleanups owed for longer than
// CleanupRetryAfter (their task failed for good, or was lost).
func (p *pipeline) sweepCleanups(ctx context.Context, res *SweepResult, now time.Time) error {
	cutoff := now.Add(-p.timing.CleanupRetryAfter)
	recs, _, err := p.loadIndex(ctx, res, func() ([]string, error) {
		return p.store.rdb.CleanupOwed(ctx, cutoff, sweepBatch*sweepMaxBatches)
	})
	if err != nil {
		return err
	}
	slot := int(now.Unix())
	for _, rec := range recs {
		if !rec.owesCleanup() {
			res.Reindexed++
			if err := p.store.rdb.Reindex(ctx, rec.ID, stateNames(), meta(rec)); err != nil {
				return err
			}
			continue
		}
		if err := p.enqueue(ctx, TypeMediaCleanup, Payload{PipelineID: rec.ID, Reason: "sweep", Poll: slot}); err != nil {
			return err
		}
		res.CleanupRetried++
	}
	return nil
}

// sweepRetention deletes terminal records older than Retention that owe
// nothing.
func (p *pipeline) sweepRetention(ctx context.Context, res *SweepResult, now time.Time) error {
	cutoff := now.Add(-p.timing.Retention)
	for range sweepMaxBatches {
		recs, ids, err := p.loadIndex(ctx, res, func() ([]string, error) {
			return p.store.rdb.CreatedBefore(ctx, "", cutoff, sweepBatch)
		})
		if err != nil {
			return err
		}
		deleted := 0
		for _, rec := range recs {
			if !rec.State.Terminal() || rec.owesCleanup() {
				continue
			}
			if err := p.store.rdb.Delete(ctx, rec.ID, meta(rec)); err != nil {
				return err
			}
			deleted++
		}
		res.RetentionDeleted += deleted
		// Old records that must stay (still owing a cleanup) sit at the
		// front of the index; stop when a batch deleted nothing.
		if len(ids) < sweepBatch || deleted == 0 {
			return nil
		}
	}
	return nil
}

// loadIndex reads the ids an index gives and their records, forgetting
// index entries whose record is gone.
func (p *pipeline) loadIndex(ctx context.Context, res *SweepResult, ids func() ([]string, error)) ([]*Record, []string, error) {
	list, err := ids()
	if err != nil {
		return nil, nil, err
	}
	entries, err := p.store.rdb.GetMany(ctx, list)
	if err != nil {
		return nil, nil, err
	}
	found := make(map[string]bool, len(entries))
	recs := make([]*Record, 0, len(entries))
	for _, e := range entries {
		rec, err := decodeRecord(e)
		if err != nil {
			p.log.Error().Err(err).Msg("sweep: skipping unreadable record")
			found[e.ID] = true
			continue
		}
		found[e.ID] = true
		recs = append(recs, rec)
	}
	for _, id := range list {
		if !found[id] {
			res.Reindexed++
			if err := p.store.rdb.Forget(ctx, id, stateNames()); err != nil {
				return nil, nil, err
			}
		}
	}
	return recs, list, nil
}

func stateNames() []string {
	out := make([]string, len(States))
	for i, s := range States {
		out[i] = string(s)
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// sweepSlot names a sweep's time slot; every worker computes the same name
// for the same slot.
func sweepSlot(t time.Time) string { return strconv.FormatInt(t.UTC().Unix(), 10) }

package tasks

import (
	"context"
	"fmt"
)

// preflight is pipeline:preflight, the first step: before anything
// exists on Swonkie, find out whether the post can publish at all — each
// media item probed from its headers (range requests; a video's moov at
// the end costs a few KiB), the target profiles looked up in the
// workspace's directory (fetched on demand when none is cached or a
// profile is not in it), and the post checked against each network's
// rules (publishrules). Every problem is listed, not the first.
//
// A pipeline with problems fails here: the step returns a permanent
// *preflightError, and its row's onFailure writes the findings with the
// error, so settle ends the pipeline with nothing to undo. A source that
// cannot be read for now (a timeout, a 503) is retried like any step.
func (p *pipeline) preflight(ctx context.Context, r *run) error {
	if r.rec.Preflight != nil || !r.rec.in.PreflightOwed {
		return nil
	}
	// p is the pipeline as its workspace sees it (run.do): its client
	// and its directory.
	c := p.checker.in(workspaceOf(r.rec), p.api)
	c.log = r.log
	pf, err := c.check(ctx, r.rec.Request, true)
	if err != nil {
		return err
	}
	if len(pf.Problems) > 0 {
		return &preflightError{facts: pf}
	}
	now := p.now().UTC()
	return r.save(ctx, func(rec *Record) error {
		if rec.Preflight != nil {
			return errNoChange
		}
		rec.Preflight = pf
		rec.progressed()
		msg := fmt.Sprintf("pre-flight: %d media probed, no problems", len(pf.Media))
		if n := len(pf.Warnings); n > 0 {
			msg += fmt.Sprintf("; %d warnings: %s", n, findingsText(pf.Warnings))
		}
		rec.note(now, StepPreflight, nil, "ok", msg)
		return nil
	})
}

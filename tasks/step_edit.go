package tasks

import (
	"context"
	"fmt"

	"github.com/mediaflow/mediaflow/swonkie"
)

// editPending: the post exists and does not carry the record's last edit
// yet (Client.Edit, or a replay that adopts an earlier attempt's post).
func (r *Record) editPending() bool {
	return r.PostID != "" && r.in.EditGen > r.in.EditApplied
}

// applyEdit is the part of post:attach that puts an edit on a post that
// exists, under the post claim: a scheduled post is unscheduled first
// (Swonkie lets a SCHEDULED post change only with restrictions), then
// updated with the record's content (PUT replaces what it sends), and the
// stage that follows (attach's stage) schedules it again. Each call is
// safe to repeat, and the generation it applied is written only after the
// update went through, so a run that dies half way leaves the edit
// pending and the next run does it again: the post ends with the record's
// content, never part of it. An edit that lands meanwhile (the claim
// lapsed) leaves a newer generation pending, applied by the next run.
//
// It returns the post as updated, nil when it could not tell (a caller's
// post, which only changes stage).
func (p *pipeline) applyEdit(ctx context.Context, r *run) (*swonkie.Post, error) {
	rec := r.rec
	id, gen := rec.PostID, rec.in.EditGen
	if err := p.renewClaim(ctx, r); err != nil || r.rec.Staged {
		return nil, err
	}
	cur, err := p.api.GetPost(ctx, id)
	if err != nil {
		return nil, wrap(err, "attach: read post %s to edit it", id)
	}
	// tooLate: the post went out, or is going out, before the edit reached
	// it: Swonkie lets neither be unscheduled nor changed. The stage step
	// records it staged, the watch records what became of it.
	tooLate := func(post *swonkie.Post) bool {
		return post.Stage == swonkie.StagePublished || wentOut(post) || underWay(post)
	}
	wentOutAsItWas := func() (*swonkie.Post, error) {
		now := p.now().UTC()
		return nil, r.save(ctx, func(rec *Record) error {
			rec.in.EditApplied = max(rec.in.EditApplied, gen)
			rec.note(now, StepAttach, nil, "info", "post "+id+" was published, or being published, before the edit reached it; it went out as it was")
			return nil
		})
	}
	// refused: a call on the post Swonkie refused for good may have been
	// refused because a publication started since the read.
	refused := func(err error) (bool, error) {
		if !swonkie.IsPermanent(err) {
			return false, nil
		}
		again, rerr := p.api.GetPost(ctx, id)
		if rerr != nil {
			return false, wrap(rerr, "attach: read post %s again after a refusal", id)
		}
		return tooLate(again), nil
	}
	if tooLate(cur) {
		return wentOutAsItWas()
	}
	steps := ""
	if cur.Stage == swonkie.StageScheduled {
		if err := p.renewClaim(ctx, r); err != nil {
			return nil, err
		}
		_, err := p.api.ChangeStage(ctx, id, swonkie.ActionUnschedule)
		if late, rerr := refused(err); late || rerr != nil {
			if rerr != nil {
				return nil, rerr
			}
			return wentOutAsItWas()
		}
		if err = mayLand(err); err != nil && !swonkie.IsConflict(err) {
			return nil, wrap(err, "attach: unschedule post %s to edit it", id)
		}
		steps = "unscheduled, "
	}
	var post *swonkie.Post
	if rec.PostCreated && rec.Request.Post != nil {
		if err := p.renewClaim(ctx, r); err != nil {
			return nil, err
		}
		post, err = p.api.UpdatePost(ctx, id, postInput(rec))
		if late, rerr := refused(err); late || rerr != nil {
			if rerr != nil {
				return nil, rerr
			}
			return wentOutAsItWas()
		}
		if err = mayLand(err); err != nil {
			return nil, wrap(err, "attach: update post %s with the edit", id)
		}
		steps += "updated"
	} else {
		steps += "left its content as it is (the caller's post)"
	}
	now := p.now().UTC()
	err = r.save(ctx, func(rec *Record) error {
		if rec.in.EditApplied >= gen {
			return errNoChange
		}
		rec.in.EditApplied = gen
		if post != nil {
			rec.PostStage = string(post.Stage)
			rec.PostPublishAt = nil
			if post.PublishAt != nil {
				t := post.PublishAt.UTC()
				rec.PostPublishAt = &t
			}
		} else if steps != "" && cur.Stage == swonkie.StageScheduled {
			rec.PostStage = string(swonkie.StageDraft)
		}
		rec.note(now, StepAttach, nil, "ok", fmt.Sprintf("edit %d on post %s: %s", gen, id, steps))
		return nil
	})
	if err != nil {
		return nil, wrap(err, "attach: record the edit of post %s", id)
	}
	return post, nil
}

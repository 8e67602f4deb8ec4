package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// cleanup is media:cleanup: bring the workspace to what the record says it
// should hold (docs/design.md, I3).
//
//   - after publication (policy after-publish): delete the media;
//   - after a failure or a cancel: withdraw the post mediaflow made (or
//     take its media off the caller's post), then delete the media;
//   - always: delete stale media entries.
//
// What each answer means is judgeRemoval's (verdict.go): 404 is done, a
// refusal for good marks the media "left behind" instead of retrying
// forever, anything else is retried. The step only records what became of
// each thing; the write that records the last deletion is the one settle
// ends the pipeline in. Work that appears meanwhile (a step racing a
// cancel records a new media entry) changes the cleanup round, so the
// planner hands it to a fresh cleanup.
func (p *pipeline) cleanup(ctx context.Context, r *run) error {
	if r.rec.wantsWithdrawal() {
		// A run acting on the post, or a call on it that may still land
		// (keepClaim), holds the post claim: the post is looked for, read
		// and withdrawn once it is free, so the cleanup sees what that run
		// or call did.
		now, err := p.store.rdb.Now(ctx)
		if err != nil {
			return wrap(err, "cleanup: read Redis's time for the post claim of pipeline %s", r.rec.ID)
		}
		if left := r.rec.in.PostClaim.left(now, p.claimTTL()); left > 0 {
			return waitFor(min(max(time.Second, left), claimPoll), "cleanup: a run of pipeline %s is acting on its post, or a call on it may still land; withdrawing it after", r.rec.ID)
		}
		// Media stay until the search is done: a post that loses its
		// media is not found by them any more (docs/swonkie-api.md, 3.6).
		if r.rec.postUnsearched() {
			if err := p.findLostPost(ctx, r, now); err != nil {
				return err
			}
		}
		if err := p.deleteDuplicates(ctx, r); err != nil {
			return err
		}
	}
	rec := r.rec
	if rec.wantsWithdrawal() && rec.postToWithdraw() {
		if err := p.withdraw(ctx, r); err != nil {
			return err
		}
		rec = r.rec
	}
	var deleted, left []string
	var deleteErr error
	for _, id := range toDelete(rec) {
		err := p.api.DeleteMedia(ctx, id)
		switch judgeRemoval(err) {
		case removed:
			deleted = append(deleted, id)
			continue
		case removeRefused:
			r.log.Error().Err(err).Str("media_id", id).Msg("media cannot be deleted; leaving it behind")
			left = append(left, id)
			continue
		}
		deleteErr = wrap(err, "cleanup: delete media %s", id)
		break
	}
	now := p.now().UTC()
	err := r.save(ctx, func(rec *Record) error {
		for _, id := range deleted {
			rec.markDeleted(id)
		}
		for _, id := range left {
			rec.markLeftBehind(id)
		}
		if len(deleted) > 0 {
			rec.note(now, StepCleanup, nil, "ok", fmt.Sprintf("deleted %d media (%s)", len(deleted), cleanupReason(rec)))
		}
		if len(left) > 0 {
			rec.note(now, StepCleanup, nil, giveUp.String(), fmt.Sprintf("left %d media behind: deleting them failed for good", len(left)))
		}
		if len(deleted)+len(left) == 0 {
			return errNoChange
		}
		rec.Attempts++
		return nil
	})
	if err != nil {
		return wrap(err, "cleanup: record deletions of pipeline %s", rec.ID)
	}
	return deleteErr
}

// claimPoll is how often a cleanup waiting for the post claim looks
// again: a run cancelled mid-call releases it long before it would lapse.
const claimPoll = 2 * time.Second

// findLostPost looks for the post an attempt of a failed or cancelled
// pipeline may have made without any run recording it (its reply lost,
// then the attach step stopped or gave up), or, for the caller's post, for
// our media a PUT may have put on it, and records it, to be withdrawn like
// any post of the pipeline's (takeMediaOff, for the caller's). No attempt starts once a
// pipeline is to be withdrawn (holdClaim refuses it), and one under way
// holds the post claim: the cleanup searches once the claim is free (now,
// Redis's time, is when it saw it free), so it sees what every attempt
// made.
func (p *pipeline) findLostPost(ctx context.Context, r *run, now time.Time) error {
	ttl := p.claimTTL()
	attempts := r.rec.in.PostAttempts
	var found []swonkie.Post
	var err error
	if id := r.rec.Request.PostID; id != "" {
		found, err = p.ourMediaOn(ctx, r.rec, id)
	} else {
		var byContent bool
		found, byContent, err = p.findOurPosts(ctx, r.rec)
		if err == nil && byContent {
			found, err = p.ownFirst(ctx, r, found)
		}
	}
	var refused string
	switch {
	case err != nil && IsPermanent(err):
		// Refused for good, like a withdrawal (postLeft): whatever the
		// attempt made stays, and the pipeline ends all the same rather
		// than wait for a search that will never be answered.
		r.log.Error().Err(err).Msg("the search for a post a lost answer may have made is refused; leaving whatever it made")
		refused = fmt.Sprintf("could not look for the post an attempt whose answer was lost may have made: %v; anything it made is left as is", err)
	case err != nil:
		return wrap(err, "cleanup: look for what an attempt of pipeline %s whose answer was lost made", r.rec.ID)
	}
	at := p.now().UTC()
	err = r.save(ctx, func(rec *Record) error {
		if !rec.postUnsearched() || !rec.wantsWithdrawal() {
			return errNoChange // recorded meanwhile, or replayed: its attach searches
		}
		if rec.in.PostAttempts != attempts || rec.in.PostClaim.left(now, ttl) > 0 {
			return errSearchAgain // an attempt or a claim since the search
		}
		rec.in.PostSearched = attempts
		if refused != "" {
			rec.note(at, StepCleanup, nil, giveUp.String(), refused)
		}
		if len(found) == 0 {
			return nil
		}
		if rec.Request.PostID != "" {
			rec.takePost(&found[0], false, nil, -1)
			rec.note(at, StepCleanup, nil, "info", fmt.Sprintf("found our media on post %s, which an attempt whose reply was lost added", found[0].ID))
			return nil
		}
		var dups []string
		for _, d := range found[1:] {
			dups = append(dups, d.ID)
		}
		rec.takePost(&found[0], true, dups, -1)
		rec.note(at, StepCleanup, nil, "info", fmt.Sprintf("found post %s, which an attempt whose reply was lost created", found[0].ID))
		return nil
	})
	if errors.Is(err, errSearchAgain) {
		return waitFor(time.Second, "cleanup: pipeline %s changed while its post was looked for; looking again", r.rec.ID)
	}
	if err != nil {
		return wrap(err, "cleanup: record the post found for pipeline %s", r.rec.ID)
	}
	return nil
}

// ourMediaOn is the caller's post, as the one post found, when it
// holds any of rec's media (a PUT whose answer was lost added them); none
// when it holds none or is gone.
func (p *pipeline) ourMediaOn(ctx context.Context, rec *Record, id string) ([]swonkie.Post, error) {
	post, err := p.api.GetPost(ctx, id)
	if swonkie.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	ours := rec.mediaIDs()
	if slices.ContainsFunc(post.MediaLibIDs(), func(m string) bool { return slices.Contains(ours, m) }) {
		return []swonkie.Post{*post}, nil
	}
	return nil, nil
}

// toDelete lists what may be deleted now: everything once the pipeline
// failed, was cancelled or published (with after-publish), else only
// stale entries (a running pipeline still needs its live media).
func toDelete(r *Record) []string {
	if r.wantsWithdrawal() || (r.PublishedAt != nil && r.Request.Cleanup == CleanupAfterPublish) {
		return r.liveMedia()
	}
	return r.staleLive()
}

// withdraw removes what a failed or cancelled pipeline put on Swonkie: the
// post it created (unscheduled first, then deleted), or its media on the
// caller's post. A post that turns out to be published stays: the record
// notes it.
func (p *pipeline) withdraw(ctx context.Context, r *run) error {
	rec := r.rec
	id := rec.PostID
	post, err := p.api.GetPost(ctx, id)
	if err == nil && underWay(post) && post.Stage == swonkie.StageScheduled && (rec.PostCreated || rec.weScheduled()) {
		// Statuses come "once publishing has started" (docs/swonkie-api.md
		// §4.3), but their values are not documented: a post that Swonkie
		// still lets us take off the queue was only queued, and a cancel
		// hours before its time must not wait for it. It is read again.
		if post, err = p.unscheduleQueued(ctx, r, post); err != nil {
			return err
		}
	}
	published := false
	// stage is the post's Swonkie stage after the withdrawal: none once
	// it is deleted (a record must not keep saying SCHEDULED), DRAFT for
	// the caller's post taken off the queue.
	stage := rec.PostStage
	var note string
	switch judgeRemoval(err) {
	case removeLater:
		return wrap(err, "cleanup: read post %s", id)
	case removeRefused:
		note = p.postLeft(r, id, err)
	case removed:
		switch {
		case err != nil:
			note = "post " + id + " was already gone"
			stage = ""
		case p.awaitPublication(rec, post):
			// Swonkie refuses to delete a post it is publishing (409), and
			// deleting its media would pull them from under the
			// publication: what the publication ends as decides. Out, the
			// post stays (the cancel came too late); failed, it goes.
			return waitFor(claimPoll, "cleanup: post %s of pipeline %s is being published; withdrawing it once that ended", id, rec.ID)
		case wentOut(post):
			// Out on a profile (a partial publication is out, as the
			// watch records it): deleting it would not take it back from
			// the networks.
			published = true
			note = "post " + id + " was already published; it stays"
		case rec.PostCreated:
			note = "deleted post " + id
			if post.Stage == swonkie.StageScheduled {
				refused, err := p.unschedule(ctx, r, id)
				if err != nil {
					return err
				}
				if refused {
					// A post Swonkie published since the read is not
					// SCHEDULED any more either, and deleting it would
					// not take it back from the networks: read it again
					// to tell, as after a refused delete.
					again, gerr := p.api.GetPost(ctx, id)
					if gerr != nil && !swonkie.IsNotFound(gerr) {
						return wrap(gerr, "cleanup: read post %s after its unschedule was refused", id)
					}
					if gerr == nil && (wentOut(again) || p.awaitPublication(rec, again)) {
						return waitFor(claimPoll, "cleanup: post %s of pipeline %s began publishing as it was withdrawn; looking again", id, rec.ID)
					}
				}
			}
			err := p.api.DeletePost(ctx, id)
			if swonkie.IsConflict(err) {
				// A publication that started since the read is refused
				// for now, not for good: read it again to tell.
				again, gerr := p.api.GetPost(ctx, id)
				if gerr != nil && !swonkie.IsNotFound(gerr) {
					return wrap(gerr, "cleanup: read post %s after its delete was refused (%v)", id, err)
				}
				if gerr == nil && (wentOut(again) || p.awaitPublication(rec, again)) {
					return waitFor(claimPoll, "cleanup: post %s of pipeline %s began publishing as it was withdrawn; looking again", id, rec.ID)
				}
				if gerr != nil {
					err = gerr // gone meanwhile
				}
			}
			switch judgeRemoval(err) {
			case removeLater:
				return wrap(err, "cleanup: delete post %s", id)
			case removeRefused:
				note = p.postLeft(r, id, err)
			default:
				stage = ""
			}
		default:
			note, stage, err = p.takeMediaOff(ctx, r, post)
			if err != nil {
				return err
			}
		}
	}
	now := p.now().UTC()
	r.log.Info().Str("post_id", id).Msg(note)
	return r.save(ctx, func(rec *Record) error {
		rec.PostWithdrawn = true
		rec.PostStage = stage
		if published && rec.PublishedAt == nil {
			rec.PublishedAt = &now
			rec.PostStage = string(swonkie.StagePublished)
			out, failed, _ := publication(post)
			rec.Publication, rec.Partial = out, len(failed) > 0
		}
		rec.note(now, StepCleanup, nil, "ok", note)
		return nil
	})
}

// postLeft is what the record says of a post Swonkie refuses for good to
// withdraw: it stays, and the media are deleted all the same (without them
// it cannot publish), rather than the cleanup failing forever.
func (p *pipeline) postLeft(r *run, id string, err error) string {
	r.log.Error().Err(err).Str("post_id", id).Msg("the post cannot be withdrawn; leaving it and deleting its media")
	return fmt.Sprintf("could not withdraw post %s: %v; left as is", id, err)
}

// unscheduleQueued tries to take off the queue a post whose profiles say
// it is being published, and returns the post as it is after: as it was
// when Swonkie refuses (409: it is publishing it), read again when it
// did.
func (p *pipeline) unscheduleQueued(ctx context.Context, r *run, post *swonkie.Post) (*swonkie.Post, error) {
	_, err := p.api.ChangeStage(ctx, post.ID, swonkie.ActionUnschedule)
	switch judgeRemoval(err) {
	case removeLater:
		return nil, wrap(err, "cleanup: unschedule post %s, which says it is being published", post.ID)
	case removeRefused:
		return post, nil // publishing it: what it ends as decides
	}
	again, err := p.api.GetPost(ctx, post.ID)
	if err != nil && !swonkie.IsNotFound(err) {
		return nil, wrap(err, "cleanup: read post %s after unscheduling it", post.ID)
	}
	return again, err
}

// unschedule takes a scheduled post off the queue before it is withdrawn.
// A 409 says it is not scheduled (any more), which is what was wanted
// unless it is because Swonkie published it since the read: refused says
// Swonkie refused, so that the caller reads the post again before it
// withdraws it. A refusal for good is logged, and the withdrawal goes on
// without it.
func (p *pipeline) unschedule(ctx context.Context, r *run, id string) (refused bool, err error) {
	_, err = p.api.ChangeStage(ctx, id, swonkie.ActionUnschedule)
	if swonkie.IsConflict(err) {
		return true, nil
	}
	switch judgeRemoval(err) {
	case removeLater:
		return false, wrap(err, "cleanup: unschedule post %s", id)
	case removeRefused:
		r.log.Warn().Err(err).Str("post_id", id).Msg("could not unschedule the post; withdrawing it anyway")
		return true, nil
	}
	return false, nil
}

// weScheduled: this pipeline scheduled the caller's post (schedule, or
// publishNow, which queues it too), which its owner had not
// (OwnerScheduled): a withdrawal unschedules it. A stage call that went
// unanswered and may have landed (StageUnanswered) counts: left SCHEDULED,
// the owner's draft would go out on the networks by our call while the
// pipeline says failed.
func (r *Record) weScheduled() bool {
	queues := r.Request.Action == ActionSchedule || r.Request.Action == ActionPublishNow
	return r.mayBeQueued() && queues && !r.in.OwnerScheduled
}

// takeMediaOff removes our media from the caller's post (and unschedules
// it if we scheduled it), leaving the rest of the post as it was. It
// returns the note and the post's stage as it leaves it.
//
// It reads the post again under the post's lock (postLock): the read
// before may already be out of date, and a run before this one may have
// unscheduled the post and stopped (the lock busy, a call failed), so the
// stage recorded is the one read here, not the one staged.
func (p *pipeline) takeMediaOff(ctx context.Context, r *run, post *swonkie.Post) (string, string, error) {
	rec, id := r.rec, post.ID
	if rec.weScheduled() && post.Stage == swonkie.StageScheduled {
		// Read again under the lock below, whatever the answer.
		if _, err := p.unschedule(ctx, r, id); err != nil {
			return "", "", err
		}
	}
	lock, err := p.lockPost(ctx, r, id, "cleanup")
	if err != nil {
		return "", "", err
	}
	var putErr error
	defer func() { lock.release(ctx, putErr) }()
	post, err = p.api.GetPost(ctx, id)
	if err != nil {
		if swonkie.IsNotFound(err) {
			return "post " + id + " was already gone", "", nil
		}
		return "", "", wrap(err, "cleanup: read post %s to take our media off", id)
	}
	if wentOut(post) || p.awaitPublication(rec, post) {
		// Its publication started since withdraw read it: withdraw
		// decides again, rather than a PUT refused while it publishes
		// leave our media to be deleted from under it.
		return "", "", waitFor(claimPoll, "cleanup: post %s of pipeline %s began publishing; looking again", id, rec.ID)
	}
	stage := string(post.Stage)
	ours := rec.mediaIDs()
	removed := 0
	groups := make([]swonkie.MediaGroup, 0, len(post.Medias))
	for _, g := range post.Medias {
		kept := g.MediaFiles[:0:0]
		for _, f := range g.MediaFiles {
			if slices.Contains(ours, f.MediaLibID) {
				removed++
				continue
			}
			kept = append(kept, f)
		}
		if len(kept) > 0 {
			g.MediaFiles = kept
			groups = append(groups, g)
		}
	}
	if removed == 0 {
		return "post " + id + " no longer holds our media", stage, nil
	}
	if len(groups) == 0 {
		// PUT cannot send an empty list (it would be read as "no change"),
		// and a media post without media is invalid anyway.
		return "post " + id + " holds only our media; left as is", stage, nil
	}
	if err := lock.covers("cleanup"); err != nil {
		return "", "", err
	}
	_, putErr = p.api.UpdatePost(ctx, id, swonkie.PostInput{Medias: groups})
	switch judgeRemoval(putErr) {
	case removeLater:
		return "", "", wrap(putErr, "cleanup: take our media off post %s", id)
	case removeRefused:
		// A post left with no media may fail validation; deleting our
		// media still happens, and the post is the caller's to fix.
		return fmt.Sprintf("could not take our media off post %s: %v", id, putErr), stage, nil
	}
	return fmt.Sprintf("took %d media off post %s", removed, id), stage, nil
}

package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Marker is the text mediaflow writes into the briefing (the internal note,
// never published) of every post it creates. Nothing documented says a
// list entry or even GET /posts/{id} carries the briefing back, so the
// marker is only a bonus when recognising our post: the media ids it
// references, which no other post can know, are what counts (adopt.go).
func Marker(pipelineID string) string { return "mediaflow-pipeline:" + pipelineID }

// attach is post:attach: put the ready media on the post (a new one, or
// the caller's), then apply the action (schedule, publishNow, or nothing
// for a draft).
//
// One run at a time acts on the post: the run holding the post claim is
// the only one that creates, adopts, updates or stages it; it takes the
// claim first and renews it before the calls that make or stage a post. A
// second run of the step (a task redelivered after a crash while the first
// still runs) waits for the claim, then finds the post staged
// (docs/design.md, I1).
func (p *pipeline) attach(ctx context.Context, r *run) error {
	if !r.rec.allReady() || r.rec.Staged {
		return nil
	}
	if (r.rec.PostID == "" || r.rec.editPending()) && r.rec.Request.Post != nil {
		if err := p.resolveLabels(ctx, r); err != nil {
			return err
		}
	}
	// A first attempt at making the post has nothing to search for: the
	// claim counts it in the same write.
	counted := false
	err := p.holdClaim(ctx, r, func(rec *Record) error {
		counted = rec.PostID == "" && rec.Request.PostID == "" && rec.in.PostAttempts == 0
		if counted {
			rec.in.PostAttempts++
		}
		return nil
	})
	if errors.Is(err, errStopAttach) {
		return nil // the cancel's own work undoes what there is
	}
	if err != nil || r.rec.Staged {
		return err
	}
	err = p.attachAndStage(ctx, r, counted)
	switch {
	case err == nil && r.rec.Staged:
	case errors.As(err, new(landingCall)):
		p.keepClaim(ctx, r, err)
	default:
		p.releaseClaim(ctx, r)
	}
	if errors.Is(err, errStopAttach) {
		return nil
	}
	return err
}

// attachAndStage does the work of attach under the claim; counted says the
// claim counted this run's attempt to create the post.
func (p *pipeline) attachAndStage(ctx context.Context, r *run, counted bool) error {
	if err := p.deleteDuplicates(ctx, r); err != nil {
		return err
	}
	// post is the post as this run made or updated it, whose stage it
	// knows; nil when the post is one this run did not make (adopted, or
	// recorded before), which is read before it is staged.
	var post *swonkie.Post
	if r.rec.PostID == "" {
		var err error
		if r.rec.Request.PostID != "" {
			post, err = p.attachToExisting(ctx, r)
		} else {
			post, err = p.createPost(ctx, r, counted)
		}
		if err != nil {
			return err
		}
		if rec := r.rec; rec.State.Terminal() || rec.CancelRequested || rec.PostID == "" {
			return nil // cancelled meanwhile: the cleanup withdraws the post
		}
	}
	if r.rec.editPending() {
		edited, err := p.applyEdit(ctx, r)
		if err != nil || r.rec.Staged {
			return err
		}
		post = edited
	}
	return p.stage(ctx, r, post)
}

// errClaimed: another run holds the post claim.
var errClaimed = errors.New("another run is acting on the post")

// errStopAttach: the pipeline was cancelled (or ended) since the run read
// it; a claim is refused, so no post is made or staged after a cancel.
var errStopAttach = errors.New("the pipeline was cancelled meanwhile")

// errSearchAgain: an attempt was counted since this run searched.
var errSearchAgain = errors.New("another attempt to create the post was made meanwhile")

// holdClaim takes or renews the post claim for this run, stamped with
// Redis's time, and writes fn's change with it (nil: the claim alone). The
// claim lapses one API call and Timing.ClaimMargin after its last renewal: a
// holder killed mid-call holds up the next run no longer than that.
func (p *pipeline) holdClaim(ctx context.Context, r *run, fn func(*Record) error) error {
	start := time.Now()
	now, err := p.store.rdb.Now(ctx)
	if err != nil {
		return wrap(err, "attach: claim the post of pipeline %s", r.rec.ID)
	}
	ttl := p.claimTTL()
	var held time.Duration
	err = r.save(ctx, func(rec *Record) error {
		if rec.Staged {
			return errNoChange // another run is done with the post
		}
		if rec.CancelRequested || rec.State.Terminal() {
			// Asked to stop since this run read the record (an inline
			// run starts from the record the step before it wrote): the
			// post is not to be made or staged now.
			return errStopAttach
		}
		if left := rec.in.PostClaim.left(now, ttl); left > 0 && rec.in.PostClaim.Holder != r.id {
			held = left
			return errClaimed
		}
		rec.in.PostClaim = newClaim(r.id, now, ttl)
		if fn != nil {
			return fn(rec)
		}
		return nil
	})
	switch {
	case errors.Is(err, errStopAttach):
		return err
	case errors.Is(err, errClaimed):
		return waitFor(max(time.Second, held), "attach: another run of pipeline %s is acting on its post", r.rec.ID)
	case errors.Is(err, errSearchAgain):
		return waitFor(time.Second, "attach: pipeline %s: %v; searching again", r.rec.ID, err)
	case err != nil:
		return wrap(err, "attach: claim the post of pipeline %s", r.rec.ID)
	}
	r.claimed = start
	return nil
}

// claimTTL is how long a post claim lasts after its last renewal: one
// API call and Timing.ClaimMargin.
func (p *pipeline) claimTTL() time.Duration { return p.api.CallTimeout() + p.timing.ClaimMargin }

// renewClaim renews the claim before a call unless this run renewed it so
// recently that it still covers the whole call.
func (p *pipeline) renewClaim(ctx context.Context, r *run) error {
	if !r.claimed.IsZero() && time.Since(r.claimed) < p.timing.ClaimMargin/2 {
		return nil
	}
	return p.holdClaim(ctx, r, nil)
}

// createPost makes the pipeline's post exactly once.
//
// POST /posts has no idempotency key, so every attempt is written down
// before it is sent (postAttempts), under the claim; any later attempt
// first looks for what an earlier one may have made (its reply lost, its
// record write refused, its worker killed) and adopts it. A search that
// fails never leads to a create. counted: the attempt is counted already
// (the first one, by the claim).
func (p *pipeline) createPost(ctx context.Context, r *run, counted bool) (*swonkie.Post, error) {
	if !counted {
		if err := p.countAttempt(ctx, r); err != nil || r.rec.PostID != "" {
			return nil, err // or a run that finished meanwhile made it
		}
	}
	gen := r.rec.in.EditGen // the content sent carries every edit up to it
	mine := r.rec.in.PostAttempts
	post, err := p.api.CreatePost(ctx, postInput(r.rec))
	err = mayLand(err)
	if _, deferred := swonkie.Deferred(err); deferred {
		// Nothing was sent (the workspace's budget is spent for now): the
		// attempt is taken back, so the run at its turn creates rather
		// than searches, unless another attempt was counted meanwhile.
		if uerr := p.holdClaim(ctx, r, func(rec *Record) error {
			if rec.PostID != "" || rec.in.PostAttempts != mine {
				return errNoChange
			}
			rec.in.PostAttempts--
			return nil
		}); uerr != nil {
			r.log.Warn().Err(uerr).Msg("could not take back an attempt at the post that was never sent; the next run searches first")
		}
		return nil, wrap(err, "attach: create post")
	}
	if err != nil {
		// The post may exist (a lost or unusable reply): the attempt stays
		// counted, so the next run searches first. A refusal for good made
		// nothing (Swonkie validates before it creates): a failed or
		// cancelled pipeline's cleanup has nothing to look for.
		if IsPermanent(err) {
			p.forgetLabels(ctx, r, err)
			if serr := r.save(ctx, func(rec *Record) error {
				if rec.PostID != "" || rec.in.PostAttempts != mine || rec.in.PostSearched >= mine {
					return errNoChange
				}
				rec.in.PostSearched = mine
				return nil
			}); serr != nil {
				r.log.Warn().Err(serr).Msg("could not note that the post was refused; a failed pipeline's cleanup searches for it")
			}
		}
		return nil, wrap(err, "attach: create post")
	}
	if len(post.ReferencedMediaIDs()) == 0 {
		// Nothing but its content tells this post from another pipeline's
		// with the same content: own it before recording it (adopt.go).
		if ok, err := p.claimPost(ctx, r.rec, post.ID); err != nil || !ok {
			if err == nil {
				err = waitFor(time.Second, "attach: post %s, made by pipeline %s, was adopted by another pipeline with the same content; looking again", post.ID, r.rec.ID)
			}
			return nil, err
		}
	}
	return p.recordPost(ctx, r, post, true, "created post "+post.ID, nil, gen)
}

// countAttempt searches for the post an earlier attempt may have made,
// adopting it when found, and otherwise counts this run's attempt.
func (p *pipeline) countAttempt(ctx context.Context, r *run) error {
	seen := r.rec.in.PostAttempts
	if seen > 0 {
		found, byContent, err := p.findOurPosts(ctx, r.rec)
		if err != nil {
			return wrap(err, "attach: look for the post an earlier attempt of pipeline %s may have created", r.rec.ID)
		}
		if byContent {
			found, err = p.ownFirst(ctx, r, found)
			if err != nil {
				return err
			}
		}
		if len(found) > 0 {
			return p.adopt(ctx, r, found)
		}
	}
	// An attempt counted since the search (by a run that took a lapsed
	// claim) may have made the post: search again rather than create.
	return p.holdClaim(ctx, r, func(rec *Record) error {
		if rec.PostID != "" {
			return errNoChange
		}
		if rec.in.PostAttempts != seen {
			return errSearchAgain
		}
		rec.in.PostAttempts++
		return nil
	})
}

// ownFirst claims the first of posts (found by their content) no other
// pipeline has taken meanwhile and returns it alone: the others may be
// other pipelines' posts, not yet recorded, and are left alone.
func (p *pipeline) ownFirst(ctx context.Context, r *run, posts []swonkie.Post) ([]swonkie.Post, error) {
	for _, post := range posts {
		ok, err := p.claimPost(ctx, r.rec, post.ID)
		if err != nil {
			return nil, err
		}
		if ok {
			return []swonkie.Post{post}, nil
		}
	}
	return nil, nil
}

// adopt takes the first post this pipeline made as its own and deletes
// the others (each a duplicate some lost reply left behind). They are
// written down with the adopted post, so a delete that fails is tried
// again by the next run instead of forgotten.
func (p *pipeline) adopt(ctx context.Context, r *run, found []swonkie.Post) error {
	keep := found[0]
	var dups []string
	for _, d := range found[1:] {
		dups = append(dups, d.ID)
	}
	r.log.Info().Str("post_id", keep.ID).Int("duplicates", len(dups)).Msg("adopted the post an earlier attempt created")
	post, err := p.recordPost(ctx, r, &keep, true,
		"adopted post "+keep.ID+" (an earlier attempt created it and its reply was lost)", dups, -1)
	if err != nil || post == nil {
		return err // or another run recorded one first, and owns the rest
	}
	return p.deleteDuplicates(ctx, r)
}

// deleteDuplicates deletes the posts the record lists as duplicates, and
// writes down each one gone. A 404 is gone too, but was counted by
// whoever deleted it.
func (p *pipeline) deleteDuplicates(ctx context.Context, r *run) error {
	var gone []string
	var failed error
	deleted := 0
	for _, id := range r.rec.in.DupPosts {
		err := p.api.DeletePost(ctx, id)
		switch {
		case err == nil:
			deleted++
			r.log.Warn().Str("post_id", id).Msg("deleted a duplicate post")
		case judgeRemoval(err) != removed:
			failed = wrap(err, "attach: delete duplicate post %s of pipeline %s", id, r.rec.ID)
		}
		if failed != nil {
			break
		}
		gone = append(gone, id)
	}
	if len(gone) > 0 {
		now := p.now().UTC()
		if err := r.save(ctx, func(rec *Record) error {
			rec.in.DupPosts = slices.DeleteFunc(rec.in.DupPosts, func(id string) bool { return slices.Contains(gone, id) })
			rec.in.DupDeleted += deleted
			if deleted > 0 {
				rec.note(now, StepAttach, nil, "info", fmt.Sprintf("deleted %d duplicate posts", deleted))
			}
			return nil
		}); err != nil {
			return wrap(err, "attach: record deleted duplicates of pipeline %s", r.rec.ID)
		}
	}
	return failed
}

// landingCall is the error of a call that changes the post (its create,
// an update, a stage change) and may still land (swonkie.MayStillLand):
// attach keeps the post claim for it.
type landingCall struct{ error }

func (l landingCall) Unwrap() error { return l.error }

// stageLanding is a stage call (schedule, publishNow) that went unanswered
// and may still land: the post may go out though the record never says
// staged. An attach that gives up after one (on it or on anything later)
// leaves the pipeline to its cleanup, which reads the post (failAttach,
// Record.mayGoOut).
type stageLanding struct{ error }

func (s stageLanding) Unwrap() error { return s.error }

// mayLand marks err as a landingCall when it is one.
func mayLand(err error) error {
	if swonkie.MayStillLand(err) {
		return landingCall{err}
	}
	return err
}

// keepClaim renews the claim of a run whose call on the post (a create, a
// stage) went unanswered because this side stopped waiting: Swonkie may
// still be acting on it. Released, the claim would let the next run search
// for the post (or read its stage) before a slow server made it, and make
// a second post (or stage it twice). Renewed, it holds every other run
// (and a failed or cancelled pipeline's cleanup) off for one more API call
// and Timing.ClaimMargin, as it does for a run killed mid-call.
//
// It renews even after a cancel (which refuses a claim taken): the
// cancel's cleanup waits for the claim before it searches, too.
//
// A stage call's is written down in the same write (in.StageUnanswered):
// the post may be queued by our call though the record never says staged,
// and a cleanup must undo that (weScheduled, mayGoOut). A run interrupted
// by a cancel records no failure (run.do), so failAttach alone never saw
// it, and the cancel's cleanup left the caller's draft SCHEDULED.
func (p *pipeline) keepClaim(ctx context.Context, r *run, cause error) {
	ctx = context.WithoutCancel(ctx)
	stage := errors.As(cause, new(stageLanding))
	now, err := p.store.rdb.Now(ctx)
	if err == nil {
		ttl := p.claimTTL()
		err = r.save(ctx, func(rec *Record) error {
			changed := stage && !rec.in.StageUnanswered
			if stage {
				rec.in.StageUnanswered = true
			}
			if rec.in.PostClaim != nil && rec.in.PostClaim.Holder == r.id {
				rec.in.PostClaim = newClaim(r.id, now, ttl)
				changed = true
			} // else lapsed and taken: its holder waits its own way
			if !changed {
				return errNoChange
			}
			return nil
		})
	}
	if err != nil {
		r.log.Warn().Err(err).Msg("could not renew the post claim after a call that may still land; it lapses as it was")
		return
	}
	r.log.Info().Err(cause).Dur("held_for", p.claimTTL()).Msg("a call on the post may still land; the post claim holds other runs off until it must have")
}

func (p *pipeline) releaseClaim(ctx context.Context, r *run) {
	err := r.save(context.WithoutCancel(ctx), func(rec *Record) error {
		if rec.in.PostClaim == nil || rec.in.PostClaim.Holder != r.id {
			return errNoChange
		}
		rec.in.PostClaim = nil
		return nil
	})
	if err != nil {
		r.log.Warn().Err(err).Msg("could not release the post claim; it expires")
	}
}

// recordPost writes the post the pipeline now has, with the duplicates
// still to delete. Should another run have recorded one first, a post this
// run created is the duplicate, written down to be deleted. contentGen is
// the edit generation the post's content carries (-1: an adopted or the
// caller's post, whose content is not known to be the record's).
func (p *pipeline) recordPost(ctx context.Context, r *run, post *swonkie.Post, created bool, msg string, dups []string, contentGen int) (*swonkie.Post, error) {
	now := p.now().UTC()
	err := r.save(ctx, func(rec *Record) error {
		if rec.PostID != "" {
			if rec.PostID == post.ID || !created || !rec.PostCreated || slices.Contains(rec.in.DupPosts, post.ID) {
				return errNoChange
			}
			rec.in.DupPosts = append(rec.in.DupPosts, post.ID)
			return nil
		}
		rec.takePost(post, created, dups, contentGen)
		rec.note(now, StepAttach, nil, "ok", msg)
		return nil
	})
	if err != nil {
		return nil, wrap(err, "attach: record post %s", post.ID)
	}
	if r.rec.PostID != post.ID {
		// Another run's post is the pipeline's: delete ours now (and, if
		// that fails, the next run does).
		return nil, p.deleteDuplicates(ctx, r)
	}
	return post, nil
}

// takePost records post as the pipeline's, with the duplicates still to
// delete. contentGen is as recordPost's.
func (r *Record) takePost(post *swonkie.Post, created bool, dups []string, contentGen int) {
	r.PostID, r.PostCreated, r.PostStage = post.ID, created, string(post.Stage)
	// The caller's post is taken before any stage call of ours: a
	// schedule it shows is its owner's (takeMediaOff leaves it).
	r.in.OwnerScheduled = !created && isStaged(post, swonkie.ActionSchedule)
	r.in.EditApplied = max(r.in.EditApplied, contentGen)
	if post.Type != "" {
		r.PostType = string(post.Type)
	}
	for _, d := range dups {
		if d != post.ID && !slices.Contains(r.in.DupPosts, d) {
			r.in.DupPosts = append(r.in.DupPosts, d)
		}
	}
	if post.PublishAt != nil {
		t := post.PublishAt.UTC()
		r.PostPublishAt = &t
	}
}

// attachToExisting adds our media to the caller's post. PUT replaces
// arrays wholesale, so the post's own media are read first and kept; media
// already there are not added twice, which makes a retry harmless.
func (p *pipeline) attachToExisting(ctx context.Context, r *run) (*swonkie.Post, error) {
	id := r.rec.Request.PostID
	lock, err := p.lockPost(ctx, r, id, "attach")
	if err != nil {
		return nil, err
	}
	var putErr error
	defer func() { lock.release(ctx, putErr) }()
	post, err := p.api.GetPost(ctx, id)
	if err != nil {
		return nil, wrap(err, "attach: read post %s", id)
	}
	have := post.MediaLibIDs()
	missing := 0
	for _, m := range r.rec.mediaIDs() {
		if !slices.Contains(have, m) {
			missing++
		}
	}
	if missing > 0 {
		// Each item joins its network's group (the shared one when it
		// names none); the post's other media stay where they are. The
		// PUT is counted before it is sent, like a create: should the
		// pipeline fail or be cancelled before a run records the post, its
		// cleanup looks at the post for our media (findLostPost) before it
		// deletes them from under it.
		if err := lock.covers("attach"); err != nil {
			return nil, err
		}
		if err := p.holdClaim(ctx, r, func(rec *Record) error {
			rec.in.PostAttempts++
			return nil
		}); err != nil {
			return nil, err
		}
		post, putErr = p.api.UpdatePost(ctx, id, swonkie.PostInput{Medias: mediaGroups(post.Medias, r.rec)})
		if err = mayLand(putErr); err != nil {
			return nil, wrap(err, "attach: add %d media to post %s", missing, id)
		}
	}
	r.log.Debug().Str("post_id", id).Int("added", missing).Msg("attached to existing post")
	return p.recordPost(ctx, r, post, false, fmt.Sprintf("added %d media to post %s", missing, id), nil, -1)
}

// stage applies the request's action. Repeating schedule or publishNow is
// not known to be safe, and Swonkie refuses a change that already took
// effect (409, or 400 "already PUBLISHED"): so a post this run did not
// make is read first, any 4xx is read again, and a post in or past the
// stage the action leads to is recorded as staged (docs/design.md, I8).
func (p *pipeline) stage(ctx context.Context, r *run, post *swonkie.Post) error {
	rec := r.rec
	var action swonkie.StageAction
	switch rec.Request.Action {
	case ActionSchedule:
		action = swonkie.ActionSchedule
	case ActionPublishNow:
		action = swonkie.ActionPublishNow
	case ActionReview:
		action = swonkie.ActionTeamReview
	default:
		return p.staged(ctx, r, post, "post left as "+rec.PostStage)
	}
	if post == nil || r.retried > 0 {
		// Read before the time is judged: an earlier run's stage call
		// that landed unanswered scheduled the post on time, and Swonkie
		// may have published it since; too late is only for a post not
		// staged yet. (schedule and publishNow lead to the same stages.)
		if done, err := p.stagedAlready(ctx, r, action); done || err != nil {
			return err
		}
	}
	if action == swonkie.ActionSchedule && rec.PostPublishAt != nil {
		// Swonkie refuses to schedule a time that has passed. A post made
		// late by retries or a crash still goes out, at once, if it is not
		// too late.
		late := p.now().Add(scheduleMargin).Sub(*rec.PostPublishAt)
		if late > p.timing.LateTolerance {
			return permanentf("schedule post %s: its publishAt %s passed %s ago (late tolerance %s)",
				rec.PostID, rec.PostPublishAt.Format(time.RFC3339), late.Round(time.Second), p.timing.LateTolerance)
		}
		if late > 0 {
			r.log.Warn().Time("publish_at", *rec.PostPublishAt).Msg("publishAt passed while the media were prepared; publishing at once")
			action = swonkie.ActionPublishNow
		}
	}
	if err := p.checkVerdict(ctx, r, action, post != nil); err != nil {
		return err
	}
	if err := p.renewClaim(ctx, r); err != nil || r.rec.Staged {
		return err
	}
	change, err := p.api.ChangeStage(ctx, rec.PostID, action)
	if err = mayLand(err); errors.As(err, new(landingCall)) {
		err = stageLanding{err}
	}
	if swonkie.IsPermanent(err) {
		// A 4xx may be Swonkie refusing a change that already took effect.
		if done, rerr := p.stagedAlready(ctx, r, action); done || rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return wrap(err, "%s post %s", action, rec.PostID)
	}
	if post != nil && change.Stage != "" {
		// The answer names the new stage, and we hold the post we just
		// made or updated: the watch step reads the rest anyway.
		after := *post
		after.Stage = change.Stage
		return p.staged(ctx, r, &after, fmt.Sprintf("%s post %s", action, rec.PostID))
	}
	got, err := p.api.GetPost(ctx, rec.PostID)
	if err != nil {
		r.log.Warn().Err(err).Msg("could not read the post after its stage change")
		got = post
	}
	return p.staged(ctx, r, got, fmt.Sprintf("%s post %s", action, rec.PostID))
}

// stagedAlready reads the post and records it staged when it is in or
// past the stage action leads to.
func (p *pipeline) stagedAlready(ctx context.Context, r *run, action swonkie.StageAction) (bool, error) {
	id := r.rec.PostID
	got, err := p.api.GetPost(ctx, id)
	if err != nil {
		return false, wrap(err, "%s post %s: read stage", action, id)
	}
	if !isStaged(got, action) {
		return false, nil
	}
	return true, p.staged(ctx, r, got, fmt.Sprintf("post %s was already %s", id, got.Stage))
}

// scheduleMargin: a publishAt closer than this may be in the past by the
// time Swonkie reads the request.
const scheduleMargin = 5 * time.Second

// isStaged: the post is in or past the stage action leads to. Schedule
// and publishNow lead to SCHEDULED (then PUBLISHED); teamReview leads to
// TEAM_REVIEW, and a post someone approved, sent back, handed to the
// client or scheduled meanwhile has been past it.
func isStaged(post *swonkie.Post, action swonkie.StageAction) bool {
	switch post.Stage {
	case swonkie.StageScheduled, swonkie.StagePublished:
		return true
	case swonkie.StageTeamReview, swonkie.StageTeamApproved, swonkie.StageTeamRevision,
		swonkie.StageClientReview, swonkie.StageClientApproved, swonkie.StageClientRevision:
		return action == swonkie.ActionTeamReview
	}
	return false
}

// staged records that the post is attached and its action done, and
// gives up the claim. (A draft's pipeline ends here: settle.)
func (p *pipeline) staged(ctx context.Context, r *run, post *swonkie.Post, msg string) error {
	now := p.now().UTC()
	err := r.save(ctx, func(rec *Record) error {
		if rec.Staged {
			return errNoChange
		}
		rec.Staged = true
		rec.in.StagedBeforeEdit = false // staged again: Staged says it
		if rec.AttachedAt == nil {
			// Staged again after an edit: the post was attached then.
			rec.AttachedAt = &now
		}
		rec.in.PostClaim = nil
		if post != nil {
			rec.PostStage = string(post.Stage)
			if post.PublishAt != nil {
				t := post.PublishAt.UTC()
				rec.PostPublishAt = &t
			}
		}
		rec.progressed()
		rec.note(now, StepAttach, nil, "ok", msg)
		return nil
	})
	if err != nil {
		return wrap(err, "attach: record stage of post %s", r.rec.PostID)
	}
	return nil
}

package tasks

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// watch is post:watch: wait for the post to be published (publishing is
// asynchronous: a 200 on schedule or publishNow only means "queued"), and
// record what each profile reported. Like await, a look that finds it
// still going returns "not yet" and the same task runs again later.
//
// What it records, per profile (profiles[].publishStatus):
//   - every profile published: the post is published (settle ends the
//     pipeline once its media are settled);
//   - some published, some failed: published with partial set, the
//     publication naming each profile's result (the post is out, and
//     withdrawing it from the profiles that took it would be worse);
//   - every profile failed: the publication, and a permanent error naming
//     them, whose verdict fails the pipeline.
func (p *pipeline) watch(ctx context.Context, r *run) error {
	rec := r.rec
	if rec.PublishedAt != nil || !rec.Staged {
		return nil
	}
	post, err := p.api.GetPost(ctx, rec.PostID)
	if swonkie.IsNotFound(err) {
		return permanentf("watch post %s: deleted outside mediaflow before it was published", rec.PostID)
	}
	if err != nil {
		return wrap(err, "watch post %s", rec.PostID)
	}
	out, failed, going := publication(post)
	now := p.now().UTC()
	if going {
		deadline := p.publishDeadline(rec, post)
		if now.After(deadline) {
			return permanentf("watch post %s: still %s at %s, past its publication deadline %s",
				rec.PostID, post.Stage, now.Format(time.RFC3339), deadline.Format(time.RFC3339))
		}
		if underWay(post) && now.After(p.publishDeadline(rec, nil)) {
			// Past the deadline of a post Swonkie has not started on, but
			// started: waited for up to PublishingCap, not failed (the
			// post may yet go out), and said so where an operator looks.
			r.log.Warn().Str("post_id", rec.PostID).Time("deadline", deadline).
				Msg("the post is still being published past its publication deadline; waiting for it")
		}
		waited := time.Duration(0)
		if at := watchAt(rec, p.timing); !at.IsZero() && now.After(at) {
			waited = now.Sub(at)
		}
		return waitFor(pollDelay(p.timing.WatchFirst, p.timing.WatchMax, waited), "post %s is %s", rec.PostID, post.Stage)
	}
	if len(failed) == len(out) && len(out) > 0 {
		err := permanentf("watch post %s: publishing failed on every profile: %s", rec.PostID, strings.Join(failed, ", "))
		if serr := r.save(ctx, func(rec *Record) error {
			rec.Publication, rec.PostStage = out, string(post.Stage)
			return nil
		}); serr != nil {
			return wrap(serr, "watch: record publication of post %s", rec.PostID)
		}
		return err
	}
	err = r.save(ctx, func(rec *Record) error {
		if rec.PublishedAt != nil {
			return errNoChange
		}
		rec.PublishedAt, rec.PostStage, rec.Publication = &now, string(post.Stage), out
		rec.Partial = len(failed) > 0
		rec.progressed()
		msg := "post " + rec.PostID + " is published"
		if rec.Partial {
			msg = fmt.Sprintf("post %s is published on %d of %d profiles; failed on %s",
				rec.PostID, len(out)-len(failed), len(out), strings.Join(failed, ", "))
		}
		rec.note(now, StepPublish, nil, "ok", msg)
		return nil
	})
	if err != nil {
		return wrap(err, "watch: record publication of post %s", rec.PostID)
	}
	return nil
}

// publication reads each profile's result from the post: the results, the
// profiles that failed (as "id (network)"), and whether publishing is
// still going on somewhere.
func publication(post *swonkie.Post) (out []ProfileResult, failed []string, going bool) {
	for _, pr := range post.Profiles {
		out = append(out, ProfileResult{ProfileID: pr.ID, Network: pr.Net.Code, PublishStatus: pr.PublishStatus})
		switch pr.PublishStatus {
		case swonkie.PublishPublished:
		case swonkie.PublishError:
			failed = append(failed, fmt.Sprintf("%s (%s)", pr.ID, pr.Net.Code))
		case "":
			// No status: only a post the server calls published is done.
			going = going || post.Stage != swonkie.StagePublished
		default:
			going = true
		}
	}
	if len(post.Profiles) == 0 {
		going = post.Stage != swonkie.StagePublished
	}
	return out, failed, going
}

// wentOut reports whether the post is out on at least one profile: a
// profile reports it published, or the watch would record it published
// (partly, too) from what its profiles say.
func wentOut(post *swonkie.Post) bool {
	out, failed, going := publication(post)
	for _, pr := range out {
		if pr.PublishStatus == swonkie.PublishPublished {
			return true
		}
	}
	return !going && len(failed) < max(len(out), 1)
}

// underWay reports whether Swonkie is publishing the post: a profile
// reports a status that is not a result (publishStatus appears "once
// publishing has started", docs/swonkie-api.md §4.3). Swonkie refuses to
// change or delete a post then (§4.10), and its media must stay.
func underWay(post *swonkie.Post) bool {
	for _, pr := range post.Profiles {
		switch pr.PublishStatus {
		case "", swonkie.PublishPublished, swonkie.PublishError:
		default:
			return true
		}
	}
	return false
}

// publishDeadline is when the post must be out at the latest: PublishWaitCap
// after it was due, or PublishingCap once Swonkie is publishing it. A record
// not staged (a cleanup asking, its stage call's answer lost) counts from
// the attempt's start, which no stage call precedes: from now, the
// deadline would move with every look and never come.
func (p *pipeline) publishDeadline(r *Record, post *swonkie.Post) time.Time {
	base := r.attemptStart()
	if r.AttachedAt != nil {
		base = *r.AttachedAt
	}
	if r.Request.Action == ActionSchedule && r.PostPublishAt != nil && r.PostPublishAt.After(base) {
		base = *r.PostPublishAt
	}
	if post != nil && underWay(post) {
		return base.Add(p.timing.PublishingCap)
	}
	return base.Add(p.timing.PublishWaitCap)
}

// awaitPublication says whether a cleanup waits for the publication of
// rec's post to end rather than act on it: Swonkie is publishing it, and
// the watch would still wait for it too.
func (p *pipeline) awaitPublication(rec *Record, post *swonkie.Post) bool {
	return underWay(post) && p.now().Before(p.publishDeadline(rec, post))
}

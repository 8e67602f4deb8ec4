package tasks

import (
	"context"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/swonkie"
)

// watch is post:watch: wait for the post to be published (publishing is
// asynchronous: a 200 on schedule or publishNow only means "queued"), then
// hand the media to the cleanup policy. Like await, it re-enqueues itself
// instead of sleeping.
func (p *pipeline) watch(ctx context.Context, rec *Record, pl Payload, log zerolog.Logger) error {
	if rec.PublishedAt != nil {
		return p.afterPublish(ctx, rec)
	}
	post, err := p.api.GetPost(ctx, rec.PostID)
	if swonkie.IsNotFound(err) {
		return permanentf("watch post %s: deleted outside mediaflow before it was published", rec.PostID)
	}
	if err != nil {
		return wrap(err, "watch post %s", rec.PostID)
	}
	if pr, failed := post.PublishFailed(); failed {
		return permanentf("watch post %s: publishing failed on profile %s (%s)", rec.PostID, pr.ID, pr.Net.Code)
	}
	now := p.now().UTC()
	if post.Published() {
		var wrote, finished bool
		err := p.store.update(ctx, rec, func(r *Record) error {
			wrote, finished = false, false
			if r.PublishedAt != nil {
				return errNoChange
			}
			wrote = true
			p.start(r, StepPublish)
			r.PublishedAt = &now
			r.PostStage = string(post.Stage)
			r.progressed()
			r.note(now, StepPublish, nil, "ok", "post "+r.PostID+" is published")
			if r.Request.Cleanup == CleanupNever || len(r.liveMedia()) == 0 {
				r.Cleanup = "kept"
				if r.Request.Cleanup == CleanupAfterPublish {
					r.Cleanup = "done"
				}
				r.finish(StateSucceeded, now)
				finished = true
				return nil
			}
			r.Step = StepCleanup
			r.Cleanup = "pending"
			return nil
		})
		if err != nil {
			return wrap(err, "watch: record publication of post %s", rec.PostID)
		}
		if wrote {
			p.obs.ObservePublished(now.Sub(rec.CreatedAt))
		}
		if finished {
			p.obs.PipelineFinished(string(StateSucceeded), "")
		}
		return p.afterPublish(ctx, rec)
	}
	if deadline := p.publishDeadline(rec); now.After(deadline) {
		return permanentf("watch post %s: still %s at %s, past its publication deadline %s",
			rec.PostID, post.Stage, now.Format(time.RFC3339), deadline.Format(time.RFC3339))
	}
	next := pl
	next.Poll++
	log.Debug().Str("stage", string(post.Stage)).Int("poll", pl.Poll).Msg("post not published yet")
	return p.enqueue(ctx, TypePostWatch, next, asynq.ProcessIn(backoff(p.timing.WatchFirst, p.timing.WatchMax, pl.Poll)))
}

func (p *pipeline) afterPublish(ctx context.Context, rec *Record) error {
	if rec.State.Terminal() || !rec.owesCleanup() {
		return nil
	}
	return p.enqueueCleanup(ctx, rec, "after_publish")
}

package tasks

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Marker is the text mediaflow writes into the briefing (the internal note,
// never published) of every post it creates. POST /posts has no
// idempotency key, so after a lost reply or a crash between the request
// and the record write, the retry searches for the marker and adopts the
// post instead of creating a second one (design.md invariant 1).
func Marker(pipelineID string) string { return "mediaflow-pipeline:" + pipelineID }

// attach is post:attach: put the ready media on the post (a new one, or
// the caller's), then apply the action (schedule, publishNow, or nothing
// for a draft).
func (p *pipeline) attach(ctx context.Context, rec *Record, _ Payload, log zerolog.Logger) error {
	if !rec.allReady() {
		return nil // the last item to become ready enqueues attach again
	}
	if rec.Staged {
		return p.afterStage(ctx, rec)
	}
	var post *swonkie.Post
	if rec.PostID == "" {
		var err error
		if rec.Request.PostID != "" {
			post, err = p.attachToExisting(ctx, rec, log)
		} else {
			post, err = p.createPost(ctx, rec, log)
		}
		if err != nil {
			return err
		}
		if rec.State.Terminal() || rec.CancelRequested {
			return nil // cancelled meanwhile: the cleanup withdraws the post
		}
	}
	return p.stage(ctx, rec, post, log)
}

// mediaIDs lists the ready media in request order.
func (r *Record) mediaIDs() []string {
	ids := make([]string, 0, len(r.Media))
	for _, m := range r.Media {
		ids = append(ids, m.MediaID)
	}
	return ids
}

func (p *pipeline) createPost(ctx context.Context, rec *Record, log zerolog.Logger) (*swonkie.Post, error) {
	retry, _ := asynq.GetRetryCount(ctx)
	var post *swonkie.Post
	adopted := false
	if retry > 0 {
		found, err := p.findPost(ctx, rec.ID)
		if err != nil {
			return nil, wrap(err, "attach: search for the post of pipeline %s", rec.ID)
		}
		post, adopted = found, found != nil
	}
	if post == nil {
		var err error
		post, err = p.api.CreatePost(ctx, postInput(rec))
		if err != nil {
			return nil, wrap(err, "attach: create post")
		}
	}
	now := p.now().UTC()
	msg := "created post " + post.ID
	if adopted {
		msg = "adopted post " + post.ID + " found by its marker (an earlier attempt created it and lost the answer)"
		log.Info().Str("post_id", post.ID).Msg("adopted post found by marker")
	}
	err := p.store.update(ctx, rec, func(r *Record) error {
		p.start(r, StepAttach)
		r.PostID, r.PostCreated, r.PostStage = post.ID, true, string(post.Stage)
		if post.PublishAt != nil {
			t := post.PublishAt.UTC()
			r.PostPublishAt = &t
		}
		r.note(now, StepAttach, nil, "ok", msg)
		return nil
	})
	if err != nil {
		return nil, wrap(err, "attach: record post %s", post.ID)
	}
	return post, nil
}

// findPost looks for a post this pipeline created, archived ones included.
func (p *pipeline) findPost(ctx context.Context, pipelineID string) (*swonkie.Post, error) {
	marker := Marker(pipelineID)
	page, err := p.api.ListPosts(ctx, swonkie.ListPostsParams{Search: marker, Stages: swonkie.AllStages, Limit: 20})
	if err != nil {
		return nil, err
	}
	var found *swonkie.Post
	for i := range page.Posts {
		post := &page.Posts[i]
		if post.Briefing == nil || !strings.Contains(post.Briefing.Markdown, marker) {
			continue
		}
		// Should there ever be two, the oldest is the one to keep.
		if found == nil || (post.CreatedAt != nil && found.CreatedAt != nil && post.CreatedAt.Before(found.CreatedAt.Time)) {
			found = post
		}
	}
	return found, nil
}

func postInput(rec *Record) swonkie.PostInput {
	sp := rec.Request.Post
	files := make([]swonkie.MediaFile, 0, len(rec.Media))
	for _, id := range rec.mediaIDs() {
		files = append(files, swonkie.MediaFile{MediaLibID: id})
	}
	in := swonkie.PostInput{
		Type:       swonkie.PostType(sp.Type),
		ProfileIDs: sp.ProfileIDs,
		Medias:     []swonkie.MediaGroup{{MediaFiles: files}},
		Briefing:   &swonkie.Briefing{Markdown: "Created by mediaflow.\n\n" + Marker(rec.ID)},
		LabelIDs:   sp.LabelIDs,
	}
	if sp.Caption != "" || sp.FirstComment != "" {
		c := swonkie.Caption{PlainText: sp.Caption}
		if sp.FirstComment != "" {
			c.FirstComment = &swonkie.Comment{PlainText: sp.FirstComment}
		}
		in.Captions = []swonkie.Caption{c}
	}
	if sp.PublishAt != nil {
		in.PublishAt = swonkie.NewTime(*sp.PublishAt)
	}
	return in
}

// attachToExisting adds our media to the caller's post. PUT replaces
// arrays wholesale, so the post's own media are read first and kept; media
// already there are not added twice, which makes a retry harmless.
func (p *pipeline) attachToExisting(ctx context.Context, rec *Record, log zerolog.Logger) (*swonkie.Post, error) {
	id := rec.Request.PostID
	post, err := p.api.GetPost(ctx, id)
	if err != nil {
		return nil, wrap(err, "attach: read post %s", id)
	}
	have := post.MediaLibIDs()
	var missing []swonkie.MediaFile
	for _, m := range rec.mediaIDs() {
		if !slices.Contains(have, m) {
			missing = append(missing, swonkie.MediaFile{MediaLibID: m})
		}
	}
	if len(missing) > 0 {
		groups := slices.Clone(post.Medias)
		shared := slices.IndexFunc(groups, func(g swonkie.MediaGroup) bool { return g.Net == nil })
		if shared < 0 {
			groups = append(groups, swonkie.MediaGroup{MediaFiles: missing})
		} else {
			groups[shared].MediaFiles = append(slices.Clone(groups[shared].MediaFiles), missing...)
		}
		post, err = p.api.UpdatePost(ctx, id, swonkie.PostInput{Medias: groups})
		if err != nil {
			return nil, wrap(err, "attach: add %d media to post %s", len(missing), id)
		}
	}
	now := p.now().UTC()
	err = p.store.update(ctx, rec, func(r *Record) error {
		p.start(r, StepAttach)
		r.PostID, r.PostCreated, r.PostStage = id, false, string(post.Stage)
		if post.PublishAt != nil {
			t := post.PublishAt.UTC()
			r.PostPublishAt = &t
		}
		r.note(now, StepAttach, nil, "ok", fmt.Sprintf("added %d media to post %s", len(missing), id))
		return nil
	})
	if err != nil {
		return nil, wrap(err, "attach: record post %s", id)
	}
	log.Debug().Str("post_id", id).Int("added", len(missing)).Msg("attached to existing post")
	return post, nil
}

// stage applies the request's action. Repeating schedule or publishNow is
// not known to be safe, so a retry (or a 409) reads the post and only acts
// on one that is not staged yet.
func (p *pipeline) stage(ctx context.Context, rec *Record, post *swonkie.Post, log zerolog.Logger) error {
	var action swonkie.StageAction
	switch rec.Request.Action {
	case ActionSchedule:
		action = swonkie.ActionSchedule
	case ActionPublishNow:
		action = swonkie.ActionPublishNow
	default:
		return p.staged(ctx, rec, post, "post left as "+rec.PostStage)
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
			log.Warn().Time("publish_at", *rec.PostPublishAt).Msg("publishAt passed while the media were prepared; publishing at once")
			action = swonkie.ActionPublishNow
		}
	}
	retry, _ := asynq.GetRetryCount(ctx)
	if retry > 0 || post == nil {
		got, err := p.api.GetPost(ctx, rec.PostID)
		if err != nil {
			return wrap(err, "%s post %s: read stage", action, rec.PostID)
		}
		if isStaged(got) {
			return p.staged(ctx, rec, got, fmt.Sprintf("post %s was already %s", rec.PostID, got.Stage))
		}
	}
	change, err := p.api.ChangeStage(ctx, rec.PostID, action)
	if swonkie.IsConflict(err) {
		got, gerr := p.api.GetPost(ctx, rec.PostID)
		if gerr == nil && isStaged(got) {
			return p.staged(ctx, rec, got, fmt.Sprintf("post %s was already %s", rec.PostID, got.Stage))
		}
	}
	if err != nil {
		return wrap(err, "%s post %s", action, rec.PostID)
	}
	if post != nil && change.Stage != "" {
		// The answer names the new stage, and we hold the post we just
		// made or updated: reading it back would cost an API call per
		// pipeline to learn nothing the watch step does not read anyway.
		after := *post
		after.Stage = change.Stage
		return p.staged(ctx, rec, &after, fmt.Sprintf("%s post %s", action, rec.PostID))
	}
	got, err := p.api.GetPost(ctx, rec.PostID)
	if err != nil {
		// The action went through; the watch step reads the post anyway.
		log.Warn().Err(err).Msg("could not read the post after its stage change")
		got = post
	}
	return p.staged(ctx, rec, got, fmt.Sprintf("%s post %s", action, rec.PostID))
}

// scheduleMargin: a publishAt closer than this may be in the past by the
// time Swonkie reads the request.
const scheduleMargin = 5 * time.Second

// isStaged: the post is queued or out already.
func isStaged(post *swonkie.Post) bool {
	return post.Stage == swonkie.StageScheduled || post.Stage == swonkie.StagePublished
}

// staged records that the post is attached and its action done, then hands
// over to the watch (or, for a draft, finishes: its media now belong to
// the post and are kept).
func (p *pipeline) staged(ctx context.Context, rec *Record, post *swonkie.Post, msg string) error {
	now := p.now().UTC()
	wrote := false
	err := p.store.update(ctx, rec, func(r *Record) error {
		wrote = false
		if r.Staged {
			return errNoChange
		}
		wrote = true
		p.start(r, StepAttach)
		r.Staged = true
		r.AttachedAt = &now
		if post != nil {
			r.PostStage = string(post.Stage)
			if post.PublishAt != nil {
				t := post.PublishAt.UTC()
				r.PostPublishAt = &t
			}
		}
		r.progressed()
		r.note(now, StepAttach, nil, "ok", msg)
		if r.Request.Action == ActionDraft {
			r.Cleanup = "kept"
			r.finish(StateSucceeded, now)
			return nil
		}
		r.Step = StepPublish
		r.DueAt = p.publishDeadline(r).Add(p.timing.StuckAfter)
		return nil
	})
	if err != nil {
		return wrap(err, "attach: record stage of post %s", rec.PostID)
	}
	if wrote {
		p.obs.ObserveAttached(now.Sub(rec.CreatedAt))
		if rec.State == StateSucceeded {
			p.obs.PipelineFinished(string(StateSucceeded), "")
		}
	}
	return p.afterStage(ctx, rec)
}

// publishDeadline is when the post must be out at the latest.
func (p *pipeline) publishDeadline(r *Record) time.Time {
	base := p.now()
	if r.AttachedAt != nil {
		base = *r.AttachedAt
	}
	if r.Request.Action == ActionSchedule && r.PostPublishAt != nil && r.PostPublishAt.After(base) {
		base = *r.PostPublishAt
	}
	return base.Add(p.timing.PublishWaitCap)
}

// afterStage enqueues the first look at the publication.
func (p *pipeline) afterStage(ctx context.Context, rec *Record) error {
	if rec.State.Terminal() {
		return nil
	}
	at := p.now().Add(p.timing.WatchFirst)
	if rec.Request.Action == ActionSchedule && rec.PostPublishAt != nil {
		at = rec.PostPublishAt.Add(p.timing.PublishGrace)
	}
	return p.enqueue(ctx, TypePostWatch, Payload{PipelineID: rec.ID, Poll: 1}, asynq.ProcessAt(at))
}

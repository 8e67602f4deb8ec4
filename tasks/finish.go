package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mediaflow/mediaflow/metrics"
)

// How a pipeline ends is decided here and nowhere else. Steps write facts
// (a media id, the post staged, the post published, a media deleted, a
// step that gave up, a cancel asked for); settle derives from them, inside
// the same write, what they add up to. So the write that records the last
// fact is the one that ends the pipeline, once, by compare-and-set, and
// observe counts it from the record before and after that write.

// settle derives from a record's facts how its pipeline stands: whether it
// succeeded, was cancelled or must fail, the step it is at, what its
// cleanup owes, and the events its caller is owed. It is pure, the only
// code that assigns a terminal state, and runs inside every write a
// worker makes (write). defaultHook is where the events of requests naming
// no webhook go ("" sends none). It reports whether it changed the record.
//
// In order (docs/design.md, "How a pipeline ends", I8):
//   - a published post succeeds once its media are settled (deleted, or
//     kept by policy): a pipeline whose post went out never fails (I8);
//   - a step that gave up fails the pipeline, at that step, once its post
//     (if staged, so it may go out) is withdrawn: its cleanup decides;
//   - a cancel ends cancelled once the post is withdrawn and the media are
//     gone;
//   - a draft, or a post handed to review, succeeds once it is attached
//     (the record's postStage says IDEA/DRAFT or TEAM_REVIEW): its media
//     belong to the post.
func settle(r *Record, now time.Time, defaultHook string) bool {
	was := standing(r)
	if r.in.ReplayAsked && (r.State == StateFailed || r.State == StateCancelled) {
		reopen(r, now)
	}
	if r.Staged && r.Request.Webhook != nil && slices.Contains(r.Request.Webhook.Events, EventAttached) {
		r.addNotice(webhookURL(r, defaultHook), EventAttached, now)
	}
	if !r.State.Terminal() {
		if r.State == StatePending && !r.in.ProgressAt.IsZero() {
			r.State = StateRunning // a step wrote: a worker has it
		}
		switch end := ending(r); end {
		case StateSucceeded, StateCancelled:
			r.State, r.Step = end, StepDone
		case StateFailed:
			r.State = end
			if r.Error != nil {
				r.Step = r.Error.Step
			}
		default:
			if s := reached(r); s.rank() > r.Step.rank() {
				r.Step = s
			}
		}
		if r.State.Terminal() {
			r.FinishedAt = &now
			switch {
			case r.State == StateCancelled:
				r.note(now, StepCleanup, nil, "ok", "cancelled")
			case r.CancelRequested && r.State == StateSucceeded:
				// Only a post that went out makes a cancel too late: a
				// cancel asked while a step that gave up had the post
				// withdrawn (winding up) ends failed, its post not out.
				r.note(now, StepCleanup, nil, "info", "cancel came too late: the post was already published")
			}
			r.addNotice(webhookURL(r, defaultHook), terminalEvent(r.State), now)
		}
	}
	r.Cleanup = cleanupState(r)
	return standing(r) != was
}

// ending is the terminal state a running pipeline's facts call for, ""
// while it must go on.
func ending(r *Record) State {
	switch {
	case r.PublishedAt != nil:
		if r.Request.Cleanup == CleanupNever || len(r.liveMedia()) == 0 {
			return StateSucceeded
		}
	case r.in.GaveUp:
		if r.mayGoOut() {
			return "" // its cleanup withdraws it, or finds it out
		}
		return StateFailed
	case r.CancelRequested:
		if len(r.liveMedia()) == 0 && !r.postToWithdraw() && !r.postUnsearched() {
			return StateCancelled
		}
	case r.Staged && r.Request.Action.endsAtAttach():
		return StateSucceeded
	}
	return ""
}

// reached is the step a running pipeline's facts show it at.
func reached(r *Record) Step {
	switch {
	case r.preflightOwed():
		return StepPreflight
	case r.PublishedAt != nil:
		return StepCleanup
	case r.Staged:
		return StepPublish
	case r.allReady():
		return StepAttach
	}
	s := StepAccepted
	for _, it := range r.Media {
		at := StepAccepted
		switch {
		case it.Status == ItemCreated, it.Status == ItemPending && it.Generation > 0:
			at = StepUpload
		case it.Status == ItemUploaded:
			at = StepConfirm
		case it.Status == ItemConfirmed, it.Status == ItemReady:
			at = StepAwait
		}
		if at.rank() > s.rank() {
			s = at
		}
	}
	return s
}

// cleanupState is what became of a pipeline's media: kept (a draft's
// media belong to its post, or the policy is never), pending while
// anything is owed, done once a finished pipeline owes nothing.
func cleanupState(r *Record) CleanupState {
	keeps := !r.wantsWithdrawal() &&
		(r.State == StateSucceeded && r.Request.Action.endsAtAttach() ||
			r.PublishedAt != nil && r.Request.Cleanup == CleanupNever)
	switch {
	case r.Cleanup == CleanupKept || keeps:
		return CleanupKept
	case r.owesCleanup():
		return CleanupPending
	case r.Cleanup != "" || r.State.Terminal():
		return CleanupDone
	}
	return r.Cleanup
}

// standing is what settle may change, to tell whether it did.
type standingOf struct {
	state           State
	step            Step
	cleanup         CleanupState
	events, notices int
}

func standing(r *Record) standingOf {
	s := standingOf{state: r.State, step: r.Step, cleanup: r.Cleanup, events: len(r.events)}
	if r.Webhook != nil {
		s.notices = len(r.Webhook.Events)
	}
	return s
}

func terminalEvent(s State) string {
	switch s {
	case StateSucceeded:
		return EventSucceeded
	case StateCancelled:
		return EventCancelled
	}
	return EventFailed
}

// write is every worker-side write of a record: the update fn (pure; it
// may return errNoChange), then settle, then the side effects the change
// calls for, decided from the record before and after the compare-and-set
// that won. A change is counted once, by the worker whose write made it,
// however many runs tried. It returns the work the write made needed (nil
// when nothing was written).
func (p *pipeline) write(ctx context.Context, rec *Record, fn func(*Record) error) ([]next, error) {
	now := p.now().UTC()
	ch, err := p.store.update(ctx, rec, func(r *Record) error {
		err := fn(r)
		if err != nil && !errors.Is(err, errNoChange) {
			return err
		}
		// A write with nothing of its own still settles: the facts may
		// already add up to an ending (a cancel with nothing to undo).
		if settled := settle(r, now, p.webhook.defaultURL); err != nil && !settled {
			return errNoChange
		}
		return nil
	})
	if err != nil || ch == nil {
		return nil, err
	}
	noteWrite(ctx, ch)
	p.observe(ctx, ch)
	work := newWork(ch.before, ch.after, p.timing)
	if work == nil {
		work = []next{}
	}
	return work, nil
}

// observe emits the metrics of one change: the only code that does. Each
// is read from the record before and after the write that made it.
func (p *pipeline) observe(ctx context.Context, ch *change) {
	b, a := ch.before, ch.after
	// Accepted once per pipeline; a replay's attempt is not a new one
	// (finished, below, counts every attempt's ending).
	if b.State == StatePending && a.State != StatePending && a.Replays == 0 {
		p.obs.PipelineAccepted()
	}
	// Once per attempt, from the attempt's start: a post staged again
	// after an edit was attached before.
	if !b.Staged && a.Staged && a.AttachedAt != nil && b.AttachedAt == nil {
		p.obs.ObserveAttachedContext(ctx, a.AttachedAt.Sub(a.attemptStart()))
	}
	if b.PublishedAt == nil && a.PublishedAt != nil {
		p.obs.ObservePublishedContext(ctx, a.PublishedAt.Sub(a.attemptStart()))
	}
	reason := cleanupReason(a)
	for i := range a.Media {
		if i < len(b.Media) && b.Media[i].MediaID == a.Media[i].MediaID {
			p.observeDisposal(b.Media[i].disposal, a.Media[i].disposal, reason, metrics.ReasonDeleteRefused)
		}
	}
	for i, s := range a.StaleMedia {
		var before disposal
		if i < len(b.StaleMedia) {
			before = b.StaleMedia[i].disposal
		}
		refused := metrics.ReasonDeleteRefused
		if s.Reason == unrecordedReason {
			refused = metrics.ReasonUnrecorded
		}
		p.observeDisposal(before, s.disposal, metrics.ReasonStale, refused)
	}
	// Entries that may exist and that nothing names: counted when the
	// record learns of them.
	for range sum(a.in.Unusable) - sum(b.in.Unusable) {
		p.obs.MediaLeftBehind(metrics.ReasonUnrecorded)
	}
	for range sum(a.in.ReplyLost) - sum(b.in.ReplyLost) {
		p.obs.MediaLeftBehind(metrics.ReasonReplyLost)
	}
	p.obs.DuplicatePostsDeleted(a.in.DupDeleted - b.in.DupDeleted)
	p.observeDeliveries(b, a)
	if !b.State.Terminal() && a.State.Terminal() {
		failedStep := ""
		if a.State == StateFailed {
			failedStep = string(a.Step)
		}
		p.obs.PipelineFinished(workspaceOf(a), string(a.State), failedStep)
		p.log.Info().Str("pipeline_id", a.ID).Str("state", string(a.State)).Str("step", string(a.Step)).Msg("pipeline finished")
	}
}

func (p *pipeline) observeDisposal(b, a disposal, deleted, refused string) {
	if !b.Deleted && a.Deleted {
		p.obs.MediaDeleted(deleted)
	}
	if !b.LeftBehind && a.LeftBehind {
		p.obs.MediaLeftBehind(refused)
	}
}

// observeDeliveries counts each webhook attempt the write recorded, by
// what became of the event: a last attempt that fails counts once, as
// gave_up.
func (p *pipeline) observeDeliveries(b, a *Record) {
	if a.Webhook == nil {
		return
	}
	for _, n := range a.Webhook.Events {
		var before Notice
		if b.Webhook != nil {
			if i := slices.IndexFunc(b.Webhook.Events, func(x Notice) bool { return x.Type == n.Type && x.Attempt == n.Attempt }); i >= 0 {
				before = b.Webhook.Events[i]
			}
		}
		if n.Attempts <= before.Attempts {
			continue
		}
		outcome := metrics.WebhookRetrying
		switch n.State {
		case DeliveryDelivered:
			outcome = metrics.WebhookDelivered
		case DeliveryGone:
			outcome = metrics.WebhookGone
		case DeliveryFailed:
			outcome = metrics.WebhookGaveUp
		}
		p.obs.WebhookDelivery(outcome, n.took)
	}
}

// observeUnwritten counts a change to Swonkie that this run could not
// write to the record (Redis refused it): the media it created exist, or
// are gone, whether or not Redis took the fact. fn is the change as it
// would have been written.
func (p *pipeline) observeUnwritten(ctx context.Context, rec *Record, fn func(*Record) error) {
	draft := cloneRecord(rec)
	if fn(draft) == nil {
		p.observe(ctx, &change{before: rec, after: draft})
	}
}

func sum(xs []int) int {
	n := 0
	for _, x := range xs {
		n += x
	}
	return n
}

// unrecordedReason is the reason of a stale entry whose id could not be
// written when it was made.
const unrecordedReason = "created, but its id could not be written"

// cleanupReason is why a pipeline's live media are deleted (the reason
// label of mediaflow_media_deleted_total).
func cleanupReason(r *Record) string {
	switch {
	case r.CancelRequested || r.State == StateCancelled:
		return metrics.ReasonCancelled
	case r.State == StateFailed:
		return metrics.ReasonCompensation
	case r.PublishedAt != nil:
		return metrics.ReasonAfterPublish
	}
	return metrics.ReasonStale
}

// reopen starts another attempt of a failed or cancelled pipeline that a
// replay asked for (Client.Replay): the one place a finished pipeline
// becomes pending again, called by settle. It keeps the pipeline's id,
// key, history and webhook; media still ready are used again, the others
// (deleted by the cleanup) start over under a new generation; a post that
// was withdrawn is forgotten, but the media ids it named are kept
// (PriorMedia) and the attempts counted, so the attach step searches for
// what an earlier attempt may have left (a post whose reply was lost) and
// adopts it instead of making a second. A post that is still there is
// kept and, like an adopted one, updated with the record's content before
// it is staged (an edit generation it lacks).
func reopen(r *Record, now time.Time) {
	r.in.ReplayAsked = false
	r.State, r.Step = StatePending, StepAccepted
	r.Replays++
	r.ReplayedAt = &now
	r.FinishedAt, r.Error, r.CancelRequested = nil, nil, false
	r.in.GaveUp, r.in.StageUnanswered, r.in.StagedBeforeEdit = false, false, false
	r.in.ProgressAt, r.in.KickedAt = time.Time{}, time.Time{}
	r.in.PostClaim = nil
	// The attempt that ended owes no search: its cleanup searched, or
	// its post was recorded. The replay's attach searches before it
	// creates all the same (PriorMedia).
	r.in.PostSearched = r.in.PostAttempts
	r.Cleanup = ""
	// Pre-flight runs again: the request may have been edited, or the
	// workspace changed (a profile reconnected), since the facts kept
	// here; kept, they made the replay skip it, and send Swonkie a post
	// pre-flight had refused.
	r.Preflight = nil
	for i := range r.Media {
		m := &r.Media[i]
		if m.MediaID != "" && !slices.Contains(r.in.PriorMedia, m.MediaID) {
			r.in.PriorMedia = append(r.in.PriorMedia, m.MediaID)
		}
		if m.Status == ItemReady && !m.Deleted && !m.LeftBehind {
			continue // still on Swonkie, still usable
		}
		*m = MediaItem{Source: m.Source, Name: m.Name, ContentType: m.ContentType, Status: ItemPending, Generation: m.Generation + 1}
	}
	if r.PostWithdrawn || r.PostID == "" {
		r.PostID, r.PostCreated, r.PostStage, r.PostWithdrawn = "", false, "", false
	}
	r.Staged, r.AttachedAt, r.PublishedAt, r.PostPublishAt = false, nil, nil, nil
	r.Publication, r.Partial = nil, false
	// Whatever post this attempt adopts or keeps gets its content again.
	r.in.EditGen++
	r.note(now, StepAccepted, nil, "ok", fmt.Sprintf("attempt %d begins", r.Replays+1))
}

// attemptStart is when the pipeline's current attempt began: its
// acceptance, or its last replay.
func (r *Record) attemptStart() time.Time {
	if r.ReplayedAt != nil {
		return *r.ReplayedAt
	}
	return r.CreatedAt
}

package tasks

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/tracing"
)

// State is where a pipeline is in its life. succeeded, failed and
// cancelled are terminal.
type State string

// States.
const (
	StatePending   State = "pending"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateCancelled State = "cancelled"
)

// States lists every state, in life order.
var States = []State{StatePending, StateRunning, StateSucceeded, StateFailed, StateCancelled}

// Terminal reports whether no step will move the pipeline any more.
func (s State) Terminal() bool {
	return s == StateSucceeded || s == StateFailed || s == StateCancelled
}

// Step names the stage of the lifecycle a pipeline reached. The same words
// are the failed_step label of mediaflow_pipelines_finished_total.
type Step string

// Steps, in order.
const (
	StepAccepted Step = "accepted"
	// StepPreflight probes the media and checks profiles and network
	// rules before anything is created (step_preflight.go).
	StepPreflight Step = "preflight"
	StepUpload    Step = "upload"  // create the media entry, stream the file into it
	StepConfirm   Step = "confirm" // declare the upload complete
	StepAwait     Step = "await"   // wait for processing to reach SUCCESS
	StepAttach    Step = "attach"  // create or update the post, then the stage action
	StepPublish   Step = "publish" // wait for the post to be PUBLISHED
	StepCleanup   Step = "cleanup" // delete the media (and withdraw our post on failure)
	// StepNotify is the webhook's step: history events of its deliveries
	// carry it. A pipeline's own step never is notify (its webhook is sent
	// after it ended).
	StepNotify Step = "notify"
	StepDone   Step = "done"
)

// Steps lists every step, in life order.
var Steps = []Step{StepAccepted, StepPreflight, StepUpload, StepConfirm, StepAwait, StepAttach, StepPublish, StepCleanup, StepNotify, StepDone}

func (s Step) rank() int { return slices.Index(Steps, s) }

// ItemStatus is where one media item is.
type ItemStatus string

// Media item statuses.
const (
	ItemPending   ItemStatus = "pending"   // nothing created yet
	ItemCreated   ItemStatus = "created"   // media entry exists, upload not finished
	ItemUploaded  ItemStatus = "uploaded"  // bytes stored, not confirmed
	ItemConfirmed ItemStatus = "confirmed" // processing
	ItemReady     ItemStatus = "ready"     // SUCCESS: usable in posts
)

func (s ItemStatus) rank() int {
	return slices.Index([]ItemStatus{ItemPending, ItemCreated, ItemUploaded, ItemConfirmed, ItemReady}, s)
}

// CleanupState says what became of the media a pipeline created.
type CleanupState string

// Cleanup states.
const (
	// CleanupPending: media (or, after a failure, our post) wait to be
	// removed.
	CleanupPending CleanupState = "pending"
	// CleanupDone: everything that had to go is gone.
	CleanupDone CleanupState = "done"
	// CleanupKept: the policy (never) or a draft keeps the media with the
	// post.
	CleanupKept CleanupState = "kept"
)

// Record is everything known about a pipeline. Its JSON field names are a
// public contract: fields may be added, never renamed.
type Record struct {
	ID    string `json:"id"`
	Key   string `json:"key,omitempty"`
	State State  `json:"state"`
	Step  Step   `json:"step"`
	// Workspace is the Swonkie workspace the pipeline publishes in
	// (workspace.go): the request's, or the fleet's only one.
	Workspace string `json:"workspace,omitempty"`
	// Request is what was asked, with media sources as given. Public
	// renderings (Client.Get, the HTTP API) hide URL credentials.
	Request Request `json:"request"`

	Media []MediaItem `json:"media"`
	// StaleMedia are media entries mediaflow created and abandoned (an
	// upload window that ran out, a media that ended in ERROR); each is
	// deleted as soon as possible.
	StaleMedia []StaleMedia `json:"staleMedia,omitempty"`
	// Preflight is what the first step found before anything was created
	// on Swonkie: each item probed, and the problems and warnings of the
	// post against its profiles and the networks' rules.
	Preflight *Preflight `json:"preflight,omitempty"`

	PostID string `json:"postId,omitempty"`
	// PostCreated is true when mediaflow made the post (and may withdraw
	// it on failure), false when it attached to the caller's post.
	PostCreated bool `json:"postCreated,omitempty"`
	// PostType is the post's type (MEDIA, STORY, REEL, LINK, STATUS):
	// the request's, or for the caller's post what Swonkie says it is.
	PostType  string `json:"postType,omitempty"`
	PostStage string `json:"postStage,omitempty"`
	// LabelIDs are the labels the post is made with: the request's
	// labelIds and the ids its label names resolved to, written once,
	// before the post is first created.
	LabelIDs []string `json:"labelIds,omitempty"`
	// PostPublishAt is the post's publishAt, once known.
	PostPublishAt *time.Time `json:"postPublishAt,omitempty"`
	// Staged is true once the action (schedule, publishNow) went through.
	Staged bool `json:"staged,omitempty"`
	// PostWithdrawn is true once a failed or cancelled pipeline removed its
	// post (or its media from the caller's post).
	PostWithdrawn bool `json:"postWithdrawn,omitempty"`
	// Publication is what each profile of the post reported once
	// publishing ended (GET /posts/{id}: profiles[].publishStatus).
	Publication []ProfileResult `json:"publication,omitempty"`
	// Partial is true when the post went out on some profiles and failed
	// on others; the pipeline still succeeds (see Publication).
	Partial bool `json:"partial,omitempty"`
	// Webhook is the caller notification, when one is configured.
	Webhook *WebhookState `json:"webhook,omitempty"`

	// Error is why the pipeline failed; while it runs, the last failure
	// it is retrying (LastError below says so for lists).
	Error *StepError `json:"error,omitempty"`
	// Attempts counts task runs that reported to the record.
	Attempts int `json:"attempts"`

	CancelRequested bool `json:"cancelRequested,omitempty"`
	// Replays counts the times the pipeline was run again after it failed
	// or was cancelled (Client.Replay); ReplayedAt is when the current
	// attempt began. Each attempt is in the history.
	Replays    int        `json:"replays,omitempty"`
	ReplayedAt *time.Time `json:"replayedAt,omitempty"`
	// Cleanup says what became of the media: pending, done or kept.
	Cleanup CleanupState `json:"cleanup,omitempty"`

	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	AttachedAt  *time.Time `json:"attachedAt,omitempty"`
	PublishedAt *time.Time `json:"publishedAt,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`

	History []Event `json:"history"`

	// TraceID is the trace the pipeline's work is recorded in, when
	// tracing was on as it was accepted (docs/design.md, "Traces").
	TraceID string `json:"traceId,omitempty"`

	// in holds what the worker needs and nobody else reads.
	in internals
	// fingerprint tells a retry from a different request under the same
	// key.
	fingerprint string
	version     int64
	// packed: the version read (or last written) is stored packed
	// (encoding.go), which the next write must know.
	packed bool
	// events are the history entries added since the record was read,
	// written with the next update.
	events []Event
	// trace is the span the pipeline was accepted in (TraceID's): its
	// tasks' spans descend from it. Written once, with the request, and
	// read from the stored traceRaw only when needed (traceContext): most
	// reads of a record never look at it.
	trace    tracing.Carrier
	traceRaw []byte
}

// traceContext is the span the pipeline was accepted in.
func (r *Record) traceContext() tracing.Carrier {
	if r.trace == nil && len(r.traceRaw) > 0 {
		_ = json.Unmarshal(r.traceRaw, &r.trace) // unreadable: no trace
	}
	return r.trace
}

// internals are stored with the record and never shown.
type internals struct {
	// ProgressAt is the last write of a step (the sweep's own writes do
	// not count): "stuck" is measured from it.
	ProgressAt time.Time `json:"progressAt,omitzero"`
	// KickedAt is when the sweep last enqueued the pipeline's missing tasks.
	KickedAt time.Time `json:"kickedAt,omitzero"`
	// PostAttempts counts POST /posts (or, for the caller's post, the PUT
	// adding our media) sent (or about to be sent) for this
	// pipeline: any attempt after the first searches before it creates.
	PostAttempts int `json:"postAttempts,omitempty"`
	// PostSearched is how many of PostAttempts need no search by a
	// failed or cancelled pipeline's cleanup (findLostPost) for a post no
	// run recorded: searched already, refused for good by Swonkie, or
	// from an attempt a replay closed (reopen).
	PostSearched int `json:"postSearched,omitempty"`
	// PostClaim is the run allowed to make, adopt or stage the post now,
	// so that two runs of the attach step never both act on Swonkie.
	PostClaim *claim `json:"postClaim,omitempty"`
	// Unusable counts, per media item, create answers that were a 2xx the
	// worker could not use: the entry may exist and is unrecorded.
	Unusable []int `json:"unusable,omitempty"`
	// ReplyLost counts, per media item, create calls whose request was
	// sent whole and whose answer never came: each may have made an entry
	// nobody can name.
	ReplyLost []int `json:"replyLost,omitempty"`
	// DupPosts are posts this pipeline made twice (lost replies) that are
	// still to be deleted: written with the post adopted, so a failed
	// delete is tried again rather than forgotten. DupDeleted counts the
	// ones mediaflow deleted.
	DupPosts   []string `json:"dupPosts,omitempty"`
	DupDeleted int      `json:"dupDeleted,omitempty"`
	// PreflightOwed: the pipeline was accepted with pre-flight on, so
	// its first step is pipeline:preflight (until Preflight is written).
	// Records from before pre-flight, or accepted with it off, go
	// straight to their uploads.
	PreflightOwed bool `json:"preflightOwed,omitempty"`
	// Edited is the request as edits (Client.Edit, Client.Replay) left
	// it; the stored request is written once, so the changed one lives
	// here and replaces it when the record is read (applyEdited).
	Edited *Request `json:"edited,omitempty"`
	// EditGen counts the edits; EditApplied is the last one the post on
	// Swonkie carries. While it is behind, the attach step puts the
	// record's content on the post before it stages it (step_edit.go).
	EditGen     int `json:"editGen,omitempty"`
	EditApplied int `json:"editApplied,omitempty"`
	// PriorMedia are the media ids earlier attempts attached or may have
	// attached (a post whose create reply was lost names them): a replay
	// searches for its post by them too, so it adopts it, never makes a
	// second.
	PriorMedia []string `json:"priorMedia,omitempty"`
	// ReplayAsked: Client.Replay asked for another attempt; settle starts
	// it (reopen).
	ReplayAsked bool `json:"replayAsked,omitempty"`
	// GaveUp: a step of the pipeline gave up (its verdict was giveUp; Error
	// says why), so the pipeline fails (settle).
	GaveUp bool `json:"gaveUp,omitempty"`
	// OwnerScheduled: the caller's post (postId) was SCHEDULED (or out)
	// when this pipeline took it, so its owner scheduled it, not this
	// pipeline: a withdrawal takes our media off and leaves it scheduled.
	OwnerScheduled bool `json:"ownerScheduled,omitempty"`
	// UploadHost, per media item, is the asynq task ("queue/id") whose run
	// made the item's entry and sends its file, until it is uploaded. The
	// upload may run inline, inside another task (a single media's runs in
	// its pre-flight's), which asynq knows as that task, not the upload's:
	// the sweep takes the upload as live while that task is
	// (uploadInFlight).
	UploadHost []string `json:"uploadHost,omitempty"`
	// StageUnanswered: a run of the attach step made a stage call that
	// went unanswered and may have landed, so the post may go out unstaged
	// in the record should the step give up (mayGoOut), and a cleanup
	// unschedules the caller's post it may have queued (weScheduled). Set
	// by the run whose call it was (keepClaim, failAttach), cancelled or
	// not, whatever later runs fail on; a replay clears it (reopen).
	StageUnanswered bool `json:"stageUnanswered,omitempty"`
	// StagedBeforeEdit: an edit took back Staged from a post our stage
	// call had queued; until it is staged again, the post may still be
	// queued as it was (the attach step may give up before it unschedules
	// it to put the edit on), so it may go out (mayGoOut). Cleared when it
	// is staged again, and by a replay (reopen).
	StagedBeforeEdit bool `json:"stagedBeforeEdit,omitempty"`
}

// claim is a short lease on an effect, held by one run. Its time is
// Redis's (TIME), never a worker's own clock, so that workers whose clocks
// disagree still agree on when it lapses.
type claim struct {
	Holder string    `json:"holder"`
	At     time.Time `json:"at"`
	// Lapse is when the claim lapses unless renewed (Redis's time too):
	// an edit is refused while a run holds the claim (edit.go).
	Lapse time.Time `json:"lapse,omitzero"`
}

// newClaim is holder's claim, taken or renewed at now (Redis's time).
func newClaim(holder string, now time.Time, ttl time.Duration) *claim {
	return &claim{Holder: holder, At: now, Lapse: now.Add(ttl)}
}

// left is how long the claim still holds at now (Redis's time) with ttl
// from its last renewal; 0 for none or a lapsed one. Never more than ttl:
// after Redis's clock stepped back (a failover to a replica behind), a
// waiter looks again within a TTL rather than sleep through the skew (the
// claim itself holds until Redis's clock passes its stamp and the TTL).
func (c *claim) left(now time.Time, ttl time.Duration) time.Duration {
	if c == nil {
		return 0
	}
	return min(ttl, max(0, ttl-now.Sub(c.At)))
}

// applyEdited makes the edited request the record's request.
func (r *Record) applyEdited() {
	if r.in.Edited != nil {
		r.Request = *r.in.Edited
	}
}

// ProfileResult is one profile's publication result.
type ProfileResult struct {
	ProfileID     string `json:"profileId"`
	Network       string `json:"network,omitempty"`
	PublishStatus string `json:"publishStatus"`
}

// MediaItem is one media source's progress.
type MediaItem struct {
	Source      string     `json:"source"`
	Name        string     `json:"name,omitempty"`
	ContentType string     `json:"contentType,omitempty"`
	MediaID     string     `json:"mediaId,omitempty"`
	Status      ItemStatus `json:"status"`
	// Bytes is how much of the file reached storage.
	Bytes int64 `json:"bytes"`
	// Generation counts the media entries created for this item; a fresh
	// one replaces a stale one.
	Generation     int        `json:"generation"`
	MediaCreatedAt *time.Time `json:"mediaCreatedAt,omitempty"`
	ConfirmedAt    *time.Time `json:"confirmedAt,omitempty"`
	ReadyAt        *time.Time `json:"readyAt,omitempty"`
	disposal
}

// disposal is what became of a media entry mediaflow created.
type disposal struct {
	Deleted bool `json:"deleted,omitempty"`
	// LeftBehind: deleting it failed for good; mediaflow stopped trying.
	LeftBehind bool `json:"leftBehind,omitempty"`
}

// StaleMedia is an abandoned media entry.
type StaleMedia struct {
	MediaID string `json:"mediaId"`
	Item    int    `json:"item"`
	Reason  string `json:"reason"`
	disposal
}

// StepError is why a step failed: the last failure while retrying, the
// final one once the pipeline failed.
type StepError struct {
	Step Step `json:"step"`
	// Status is the HTTP status Swonkie (or a media source) answered, 0
	// when there was no answer.
	Status    int       `json:"status,omitempty"`
	Message   string    `json:"message"`
	Permanent bool      `json:"permanent,omitempty"`
	At        time.Time `json:"at"`
}

// Event is one line of a pipeline's history.
type Event struct {
	At      time.Time `json:"at"`
	Step    Step      `json:"step"`
	Item    *int      `json:"item,omitempty"`
	Outcome string    `json:"outcome"` // ok, retry, rate_limited, failure (a verdict that gave up), info
	Message string    `json:"message,omitempty"`
}

// note adds a history event, written with the record's next update.
func (r *Record) note(now time.Time, step Step, item *int, outcome, msg string) {
	r.events = append(r.events, Event{At: now, Step: step, Item: item, Outcome: outcome, Message: msg})
}

// LastError is the error a person should see in a list: the reason of a
// failed pipeline, nil for one that succeeded or was cancelled (a retry it
// recovered from is history), and the failure it is retrying while it runs.
func (r *Record) LastError() *StepError {
	if r.State == StateSucceeded || r.State == StateCancelled {
		return nil
	}
	return r.Error
}

// allReady reports whether every media item is usable in a post.
func (r *Record) allReady() bool {
	for _, m := range r.Media {
		if m.Status != ItemReady {
			return false
		}
	}
	return true
}

// postLabelIDs are the label ids the post gets: the resolved ones once
// the names are resolved, the request's until then.
func (r *Record) postLabelIDs() []string {
	if r.LabelIDs != nil || r.Request.Post == nil {
		return r.LabelIDs
	}
	return r.Request.Post.LabelIDs
}

// labelsResolved: the post's label names (if any) have their ids.
func (r *Record) labelsResolved() bool {
	return r.Request.Post == nil || len(r.Request.Post.Labels) == 0 || r.LabelIDs != nil
}

// mediaIDs lists the items' media ids in request order.
func (r *Record) mediaIDs() []string {
	ids := make([]string, 0, len(r.Media))
	for _, m := range r.Media {
		ids = append(ids, m.MediaID)
	}
	return ids
}

// liveMedia lists the media ids mediaflow created for this pipeline and
// has not deleted yet.
func (r *Record) liveMedia() []string {
	var ids []string
	for _, m := range r.Media {
		if m.MediaID != "" && !m.Deleted && !m.LeftBehind {
			ids = append(ids, m.MediaID)
		}
	}
	return append(ids, r.staleLive()...)
}

func (r *Record) staleLive() []string {
	var ids []string
	for _, s := range r.StaleMedia {
		if !s.Deleted && !s.LeftBehind {
			ids = append(ids, s.MediaID)
		}
	}
	return ids
}

// disposals returns what became of every entry (live or stale) of media id.
func (r *Record) disposals(id string) []*disposal {
	var out []*disposal
	for i := range r.Media {
		if r.Media[i].MediaID == id {
			out = append(out, &r.Media[i].disposal)
		}
	}
	for i := range r.StaleMedia {
		if r.StaleMedia[i].MediaID == id {
			out = append(out, &r.StaleMedia[i].disposal)
		}
	}
	return out
}

func (r *Record) markDeleted(id string) {
	for _, d := range r.disposals(id) {
		d.Deleted = true
	}
}

func (r *Record) markLeftBehind(id string) {
	for _, d := range r.disposals(id) {
		d.LeftBehind = true
	}
}

// wantsWithdrawal: the pipeline failed, was cancelled or gave up (and its
// post is not out), so its post must not go out and its media must go.
func (r *Record) wantsWithdrawal() bool {
	return r.State == StateFailed || r.State == StateCancelled || r.CancelRequested ||
		r.in.GaveUp && r.PublishedAt == nil && r.State != StateSucceeded
}

// windingUp: the pipeline ended, or is ending (a cancel asked for, or a
// step that gave up on a post that may still go out); only its cleanup
// and its events still run.
func (r *Record) windingUp() bool {
	return r.State.Terminal() || r.wantsWithdrawal()
}

// mayGoOut reports whether the pipeline's post may still go out without
// anything more from us: it was staged (or a stage call may have landed
// unanswered), and is neither out nor withdrawn.
// A step giving up on such a post does not end the pipeline failed until
// its cleanup has withdrawn it: the post may go out first (I8).
func (r *Record) mayGoOut() bool {
	return r.mayBeQueued() && r.postToWithdraw()
}

// mayBeQueued: a stage call of ours may be in effect on the post: it is
// staged, a stage call went unanswered (StageUnanswered), or an edit took
// back a stage that is not undone yet (StagedBeforeEdit).
func (r *Record) mayBeQueued() bool {
	return r.Staged || r.in.StageUnanswered || r.in.StagedBeforeEdit
}

// postToWithdraw reports whether a failed or cancelled pipeline left a post
// of its own (or its media on the caller's post) that must go.
func (r *Record) postToWithdraw() bool {
	return r.PostID != "" && r.PublishedAt == nil && !r.PostWithdrawn
}

// postUnsearched reports whether POST /posts (or, for the caller's post,
// the PUT adding our media) was sent for a pipeline that has no post
// recorded (a lost or unusable reply, then a failure or a cancel before a
// run adopted it): a failed or cancelled pipeline looks for that post
// (findLostPost) before it can end with nothing left.
func (r *Record) postUnsearched() bool {
	return r.PostID == "" && r.in.PostAttempts > r.in.PostSearched
}

// owesCleanup reports whether media (or, after a failure, our post) are
// still to be removed.
func (r *Record) owesCleanup() bool {
	if len(r.staleLive()) > 0 {
		return true
	}
	switch {
	case r.wantsWithdrawal():
		return len(r.liveMedia()) > 0 || r.postToWithdraw() || r.postUnsearched() || len(r.in.DupPosts) > 0
	case r.PublishedAt != nil && r.Request.Cleanup == CleanupAfterPublish:
		return len(r.liveMedia()) > 0
	}
	return false
}

// cleanupSince is when the record started owing a cleanup; it only has to
// be stable across writes so the index entry does not move on every one.
func (r *Record) cleanupSince() time.Time {
	switch {
	case r.FinishedAt != nil:
		return *r.FinishedAt
	case r.PublishedAt != nil:
		return *r.PublishedAt
	}
	return r.CreatedAt
}

// progressed counts a step's successful run; a running pipeline's last
// error is then history. A pipeline that failed meanwhile keeps its error.
func (r *Record) progressed() {
	r.Attempts++
	if !r.State.Terminal() {
		r.Error = nil
	}
}

// public returns a copy safe to show: media source URLs lose their query,
// fragment and user info, which may be credentials (presigned URLs).
func (r *Record) public() *Record {
	c := *r
	c.in, c.events = internals{}, nil
	c.TraceID = r.traceContext().TraceID()
	if c.History == nil {
		c.History = []Event{}
	}
	c.Request.Media = make([]MediaSource, len(r.Request.Media))
	for i, m := range r.Request.Media {
		m.Source = RedactSource(m.Source)
		c.Request.Media[i] = m
	}
	if r.Request.Webhook != nil {
		w := *r.Request.Webhook
		w.URL = RedactSource(w.URL)
		c.Request.Webhook = &w
	}
	c.Media = make([]MediaItem, len(r.Media))
	for i, m := range r.Media {
		m.Source = RedactSource(m.Source)
		c.Media[i] = m
	}
	return &c
}

// RedactSource hides the parts of a URL that may be credentials.
func RedactSource(src string) string {
	if !strings.Contains(src, "://") {
		return src
	}
	u, err := url.Parse(src)
	if err != nil {
		return "(unparsable source)"
	}
	if u.User != nil {
		u.User = url.User("redacted")
	}
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	u.Fragment = ""
	return u.String()
}

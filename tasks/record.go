package tasks

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
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

// Step names the stage of the lifecycle a pipeline reached.
type Step string

// Steps, in order.
const (
	StepAccepted Step = "accepted"
	StepUpload   Step = "upload"  // create the media entry, stream the file into it
	StepConfirm  Step = "confirm" // declare the upload complete
	StepAwait    Step = "await"   // wait for processing to reach SUCCESS
	StepAttach   Step = "attach"  // create or update the post, then the stage action
	StepPublish  Step = "publish" // wait for the post to be PUBLISHED
	StepCleanup  Step = "cleanup" // delete the media (and withdraw our post on failure)
	StepDone     Step = "done"
)

// ItemStatus is where one media item is.
type ItemStatus string

// Media item statuses.
const (
	ItemPending   ItemStatus = "pending"   // nothing created yet
	ItemCreated   ItemStatus = "created"   // media entry exists, upload not finished
	ItemUploaded  ItemStatus = "uploaded"  // bytes stored, not confirmed
	ItemConfirmed ItemStatus = "confirmed" // processing
	ItemReady     ItemStatus = "ready"     // SUCCESS: usable in posts
	ItemFailed    ItemStatus = "failed"
)

func (s ItemStatus) rank() int {
	return slices.Index([]ItemStatus{ItemPending, ItemCreated, ItemUploaded, ItemConfirmed, ItemReady}, s)
}

// Record is everything known about a pipeline. Its JSON field names are a
// public contract: fields may be added, never renamed.
type Record struct {
	ID    string `json:"id"`
	Key   string `json:"key,omitempty"`
	State State  `json:"state"`
	Step  Step   `json:"step"`
	// Request is what was asked, with media sources as given. Public
	// renderings (Client.Get, the HTTP API) hide URL credentials.
	Request Request `json:"request"`
	// Fingerprint tells a retry from a different request under the same
	// key; internal, not shown.
	Fingerprint string `json:"fingerprint,omitempty"`

	Media []MediaItem `json:"media"`
	// StaleMedia are media entries mediaflow created and abandoned (an
	// upload window that ran out, a media that ended in ERROR); each is
	// deleted as soon as possible.
	StaleMedia []StaleMedia `json:"staleMedia,omitempty"`

	PostID string `json:"postId,omitempty"`
	// PostCreated is true when mediaflow made the post (and may withdraw
	// it on failure), false when it attached to the caller's post.
	PostCreated bool   `json:"postCreated,omitempty"`
	PostStage   string `json:"postStage,omitempty"`
	// PostPublishAt is the post's publishAt, once known.
	PostPublishAt *time.Time `json:"postPublishAt,omitempty"`
	// Staged is true once the action (schedule, publishNow) went through.
	Staged bool `json:"staged,omitempty"`
	// PostWithdrawn is true once a failed or cancelled pipeline removed its
	// post (or its media from the caller's post).
	PostWithdrawn bool `json:"postWithdrawn,omitempty"`

	Error *StepError `json:"error,omitempty"`
	// Attempts counts task runs that reported to the record.
	Attempts int `json:"attempts"`

	CancelRequested bool `json:"cancelRequested,omitempty"`
	// Cleanup is "pending" while media wait to be deleted, then "done";
	// "kept" when the policy or a draft keeps them.
	Cleanup string `json:"cleanup,omitempty"`

	CreatedAt   time.Time  `json:"createdAt"`
	UpdatedAt   time.Time  `json:"updatedAt"`
	AttachedAt  *time.Time `json:"attachedAt,omitempty"`
	PublishedAt *time.Time `json:"publishedAt,omitempty"`
	FinishedAt  *time.Time `json:"finishedAt,omitempty"`
	// DueAt is when the sweep next looks at the pipeline; internal, not
	// shown.
	DueAt time.Time `json:"dueAt,omitzero"`

	History []Event `json:"history"`

	version int64
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
	Outcome string    `json:"outcome"` // ok, retry, failed, info
	Message string    `json:"message,omitempty"`
}

// maxHistory keeps a record small whatever happens to it.
const maxHistory = 40

func (r *Record) note(now time.Time, step Step, item *int, outcome, msg string) {
	r.History = append(r.History, Event{At: now, Step: step, Item: item, Outcome: outcome, Message: msg})
	if n := len(r.History); n > maxHistory {
		// Keep the first events (how it started) and the latest ones.
		keep := append([]Event(nil), r.History[:4]...)
		r.History = append(keep, r.History[n-(maxHistory-4):]...)
	}
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

// markDeleted records that media id is gone.
func (r *Record) markDeleted(id string) {
	for _, d := range r.disposals(id) {
		d.Deleted = true
	}
}

// markLeftBehind records that deleting media id failed for good.
func (r *Record) markLeftBehind(id string) {
	for _, d := range r.disposals(id) {
		d.LeftBehind = true
	}
}

// owesCleanup reports whether media (or, after a failure, our post) are
// still to be removed.
func (r *Record) owesCleanup() bool {
	if len(r.staleLive()) > 0 {
		return true
	}
	switch {
	case r.State == StateFailed || r.State == StateCancelled || r.CancelRequested:
		return len(r.liveMedia()) > 0 || r.postToWithdraw()
	case r.PublishedAt != nil && r.Request.Cleanup == CleanupAfterPublish:
		return len(r.liveMedia()) > 0
	}
	return false
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

// progressed counts a step's successful run; a running pipeline's last
// error is then history. A pipeline that failed meanwhile keeps its error.
func (r *Record) progressed() {
	r.Attempts++
	if !r.State.Terminal() {
		r.Error = nil
	}
}

// settleCleanup sets Cleanup from what is still owed: "pending", or "done"
// once a finished (or publishing) pipeline owes nothing. "kept" stays.
func (r *Record) settleCleanup() {
	switch {
	case r.Cleanup == "kept":
	case r.owesCleanup():
		r.Cleanup = "pending"
	case r.Cleanup != "" || r.State.Terminal():
		r.Cleanup = "done"
	}
}

// finish moves the record to a terminal state.
func (r *Record) finish(state State, now time.Time) {
	r.State = state
	if state != StateFailed {
		r.Step = StepDone
	}
	r.FinishedAt = &now
}

// postToWithdraw reports whether a failed or cancelled pipeline left a post
// of its own (or its media on the caller's post) that must go.
func (r *Record) postToWithdraw() bool {
	return r.PostID != "" && r.PublishedAt == nil && !r.PostWithdrawn
}

// public returns a copy safe to show: media source URLs lose their query,
// fragment and user info, which may be credentials (presigned URLs).
func (r *Record) public() *Record {
	c := *r
	c.Fingerprint, c.DueAt = "", time.Time{}
	c.Request.Media = make([]MediaSource, len(r.Request.Media))
	for i, m := range r.Request.Media {
		m.Source = RedactSource(m.Source)
		c.Request.Media[i] = m
	}
	c.Media = make([]MediaItem, len(r.Media))
	for i, m := range r.Media {
		m.Source = RedactSource(m.Source)
		c.Media[i] = m
	}
	return &c
}

// RedactSource hides the parts of a source URL that may be credentials.
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

// Progress is one line for a person watching: state, step, where each
// media item is, the post's stage, the cleanup, and a retry in progress.
func (r *Record) Progress() string {
	items := make([]string, len(r.Media))
	for i, m := range r.Media {
		items[i] = string(m.Status)
	}
	s := fmt.Sprintf("%-9s %-8s media [%s]", r.State, r.Step, strings.Join(items, " "))
	if r.PostStage != "" {
		s += "  post " + r.PostStage
	}
	if r.Cleanup != "" {
		s += "  cleanup " + r.Cleanup
	}
	if r.Error != nil && !r.State.Terminal() {
		if r.Error.Status != 0 {
			s += fmt.Sprintf("  (retrying after %d)", r.Error.Status)
		} else {
			s += "  (retrying)"
		}
	}
	return s
}

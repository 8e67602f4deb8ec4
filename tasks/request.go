package tasks

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Action is what happens to the post once the media are attached.
type Action string

// Actions.
const (
	// ActionSchedule queues the post for its publishAt.
	ActionSchedule Action = "schedule"
	// ActionPublishNow publishes at once.
	ActionPublishNow Action = "publishNow"
	// ActionDraft only creates (or updates) the post.
	ActionDraft Action = "draft"
	// ActionReview hands the post to the team for sign-off (Swonkie's
	// teamReview: stage TEAM_REVIEW); approving and publishing it is
	// theirs, in the Swonkie web app.
	ActionReview Action = "review"
)

// endsAtAttach reports whether the pipeline is done once the post is
// attached and staged: a draft or a post handed to review is not watched
// until it is out, and its media belong to the post.
func (a Action) endsAtAttach() bool { return a == ActionDraft || a == ActionReview }

// CleanupPolicy says what becomes of the media once the post is out.
type CleanupPolicy string

// Cleanup policies.
const (
	// CleanupAfterPublish deletes the media from the Swonkie library once
	// the post reports PUBLISHED (the default).
	CleanupAfterPublish CleanupPolicy = "after-publish"
	// CleanupNever keeps them.
	CleanupNever CleanupPolicy = "never"
)

// Request is a publish request. The same JSON is read by the Go API, by
// `enqueue batch` (one per line) and by the HTTP API.
type Request struct {
	// Key makes the request idempotent: the same key always answers the
	// same pipeline.
	Key string `json:"key,omitempty"`
	// Workspace names the Swonkie workspace to publish in (workspace.go);
	// it may be left out when the fleet serves exactly one.
	Workspace string        `json:"workspace,omitempty"`
	Media     []MediaSource `json:"media"`
	// Post describes a new post; PostID names an existing one to attach
	// the media to instead. Exactly one of them is set.
	Post    *PostSpec     `json:"post,omitempty"`
	PostID  string        `json:"postId,omitempty"`
	Action  Action        `json:"action,omitempty"`
	Cleanup CleanupPolicy `json:"cleanup,omitempty"`
	// Webhook, when set, receives the pipeline's events (webhook.go);
	// without it they go to the worker's WEBHOOK_URL, if any.
	Webhook *WebhookSpec `json:"webhook,omitempty"`
}

// MediaSource is one file to publish: a path under MEDIA_ROOT, a file://
// URL or an http(s) URL.
type MediaSource struct {
	Source      string `json:"source"`
	Name        string `json:"name,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// Net puts the file in that network's media group (Swonkie's
	// medias[].net): the network gets its own files instead of the shared
	// ones. Empty: every network.
	Net string `json:"net,omitempty"`
}

// PostSpec is the post to create (post_content.go checks it and turns it
// into Swonkie's post).
type PostSpec struct {
	// Type is MEDIA (default), STORY, REEL, LINK or STATUS.
	Type       string   `json:"type,omitempty"`
	ProfileIDs []string `json:"profileIds"`
	// Caption and FirstComment are the text for every network; Captions
	// replace them on the networks they name.
	Caption      string       `json:"caption,omitempty"`
	FirstComment string       `json:"firstComment,omitempty"`
	Captions     []CaptionFor `json:"captions,omitempty"`
	// Links are a LINK post's links, one for every network or one per
	// network.
	Links     []LinkSpec                `json:"links,omitempty"`
	Facebook  *FacebookSpec             `json:"facebook,omitempty"`
	Instagram *swonkie.InstagramOptions `json:"instagram,omitempty"`
	LinkedIn  *swonkie.LinkedInOptions  `json:"linkedIn,omitempty"`
	TikTok    *swonkie.TikTokOptions    `json:"tiktok,omitempty"`
	PublishAt *time.Time                `json:"publishAt,omitempty"`
	LabelIDs  []string                  `json:"labelIds,omitempty"`
	// Labels name labels: each is the workspace's label of that name,
	// created (once for the whole fleet) when there is none.
	Labels []string `json:"labels,omitempty"`
}

// Limits of a request, checked before anything is queued.
const (
	MaxMedia        = 10
	MaxProfiles     = 50
	MaxCaptionRunes = 5000
	MaxCommentRunes = 2200
	MaxKeyLength    = 255
	MaxSourceLength = 4096
	// MaxScheduleAhead: a publishAt further ahead is a mistake (a year
	// typed wrong, 9999-12-31 as "never"), not a plan.
	MaxScheduleAhead = 10 * 366 * 24 * time.Hour
)

// Problem is one thing wrong with a request, named by its JSON path.
type Problem struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// ValidationError lists everything wrong with a request. Nothing is queued
// for a request that has one.
type ValidationError struct {
	Problems []Problem
	// Unusable says that the request is well formed and every problem is
	// a thing it names that cannot take it (a profile the workspace's
	// directory does not list, or whose connection is broken): the HTTP
	// API answers 422 rather than 400.
	Unusable bool `json:"-"`
}

func (e *ValidationError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.Field + ": " + p.Message
	}
	return "invalid publish request: " + strings.Join(parts, "; ")
}

// CheckSource validates one media source without reading it (scheme,
// confinement to MEDIA_ROOT). The worker's *source.Opener provides one.
type CheckSource func(src string) error

// ContentTypeSupported reports whether the worker can publish a declared
// content type; nil accepts any.
type ContentTypeSupported func(contentType string) bool

// normalize fills the defaults a request may leave out.
func (r *Request) normalize() {
	if r.Post != nil && r.Post.Type == "" {
		r.Post.Type = "MEDIA"
	}
	if r.Post != nil && r.Post.PublishAt != nil {
		t := r.Post.PublishAt.UTC()
		r.Post.PublishAt = &t
	}
	if r.Post != nil && r.Post.Labels != nil {
		names := make([]string, len(r.Post.Labels))
		for i, name := range r.Post.Labels {
			names[i] = strings.TrimSpace(name)
		}
		r.Post.Labels = names
	}
	if r.Action == "" && r.Post != nil && r.Post.PublishAt != nil {
		r.Action = ActionSchedule
	}
	if r.Cleanup == "" {
		r.Cleanup = CleanupAfterPublish
	}
	if r.Media == nil {
		r.Media = []MediaSource{}
	}
	r.Key = strings.TrimSpace(r.Key)
	r.Workspace = strings.TrimSpace(r.Workspace)
	r.PostID = strings.TrimSpace(r.PostID)
}

// validate lists every problem of a normalized request. now and minLead
// decide whether a publishAt is far enough in the future to schedule.
func (r *Request) validate(now time.Time, minLead time.Duration, check, checkHook CheckSource, supported ContentTypeSupported) error {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if len(r.Key) > MaxKeyLength {
		add("key", "longer than %d characters", MaxKeyLength)
	}
	switch n := len(r.Media); {
	case n == 0 && (r.Post == nil || !r.Post.textOnly()):
		add("media", "at least one media source is required")
	case n > MaxMedia:
		add("media", "at most %d media per request, got %d", MaxMedia, n)
	}
	for i, m := range r.Media {
		f := fmt.Sprintf("media[%d]", i)
		switch {
		case strings.TrimSpace(m.Source) == "":
			add(f+".source", "required")
		case len(m.Source) > MaxSourceLength:
			add(f+".source", "longer than %d characters", MaxSourceLength)
		case check != nil:
			if err := check(m.Source); err != nil {
				add(f+".source", "%v", err)
			}
		}
		if utf8.RuneCountInString(m.Name) > 255 {
			add(f+".name", "longer than 255 characters")
		}
		if msg := unprintable(m.Name); msg != "" {
			add(f+".name", "%s", msg)
		}
		if m.ContentType != "" && supported != nil && !supported(m.ContentType) {
			add(f+".contentType", "%q is not an image or video type Swonkie publishes", m.ContentType)
		}
		checkNet(add, f+".net", m.Net)
	}
	switch {
	case r.Post == nil && r.PostID == "":
		add("post", "either post or postId is required")
	case r.Post != nil && r.PostID != "":
		add("postId", "give either post (a new post) or postId (an existing one), not both")
	}
	if r.Post != nil {
		r.Post.check(r.Media, add)
	}
	switch r.Action {
	case ActionSchedule:
		if r.Post != nil {
			if r.Post.PublishAt == nil {
				add("post.publishAt", "required to schedule")
			} else if r.Post.PublishAt.Before(now.Add(minLead)) {
				add("post.publishAt", "must be at least %s in the future to schedule, got %s",
					minLead, r.Post.PublishAt.Format(time.RFC3339))
			} else if r.Post.PublishAt.After(now.Add(MaxScheduleAhead)) {
				add("post.publishAt", "more than ten years ahead (%s)", r.Post.PublishAt.Format(time.RFC3339))
			}
		}
	case ActionPublishNow:
		if r.Post != nil && r.Post.PublishAt != nil {
			add("post.publishAt", "publishNow publishes at once; leave publishAt out or use schedule")
		}
	case ActionDraft:
	case ActionReview:
		if r.Post != nil && r.Post.PublishAt != nil && r.Post.PublishAt.After(now.Add(MaxScheduleAhead)) {
			add("post.publishAt", "more than ten years ahead (%s)", r.Post.PublishAt.Format(time.RFC3339))
		}
	case "":
		add("action", "required: schedule (with post.publishAt), publishNow, draft or review")
	default:
		add("action", "must be schedule, publishNow, draft or review, got %q", r.Action)
	}
	if w := r.Webhook; w != nil {
		switch {
		case strings.TrimSpace(w.URL) == "":
			add("webhook.url", "required")
		case len(w.URL) > MaxSourceLength:
			add("webhook.url", "longer than %d characters", MaxSourceLength)
		case checkHook != nil:
			if err := checkHook(w.URL); err != nil {
				add("webhook.url", "%v", err)
			}
		}
		for i, e := range w.Events {
			if e != EventAttached {
				add(fmt.Sprintf("webhook.events[%d]", i), "only %q may be asked for (the terminal event is always sent), got %q", EventAttached, e)
			}
		}
	}
	switch r.Cleanup {
	case CleanupAfterPublish, CleanupNever:
	default:
		add("cleanup", "must be after-publish or never, got %q", r.Cleanup)
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// unprintable says what in text a post must not carry, or "": bytes that
// are not UTF-8, and control characters other than tab and line breaks
// (a NUL ends the text early in C-string code, others garble what people
// see).
func unprintable(text string) string {
	if !utf8.ValidString(text) {
		return "not valid UTF-8"
	}
	for i, r := range text {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return fmt.Sprintf("contains the control character %U at byte %d; only tab and line breaks are allowed", r, i)
		}
	}
	return ""
}

// fingerprint identifies a request's content, so that reusing an
// idempotency key with a different request can be told apart from a retry.
func (r *Request) fingerprint() string {
	c := *r
	c.Key = ""
	if c.Workspace == DefaultWorkspace {
		// A request of a deployment without a workspaces file names none:
		// the same request under the same key is the same pipeline.
		c.Workspace = ""
	}
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12])
}

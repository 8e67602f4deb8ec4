package tasks

import (
	"fmt"
	"strings"
	"time"
)

// Progress is one line for a person watching a pipeline: state, step,
// where each media item is, where the post is, abandoned media being
// deleted, the cleanup once it ended, and a retry while it runs. Every
// part is said only when it is true. enqueue --wait and worker -demo print
// it, so both say the same thing in the same words.
func (r *Record) Progress() string {
	items := make([]string, len(r.Media))
	for i, m := range r.Media {
		items[i] = string(m.Status)
	}
	s := fmt.Sprintf("%-9s %-8s media [%s]", r.State, r.Step, strings.Join(items, " "))
	if r.PostID != "" {
		s += "  post " + r.PostSummary()
	}
	if n := len(r.staleLive()); n > 0 && !r.State.Terminal() {
		s += fmt.Sprintf("  deleting %d abandoned media", n)
	}
	if r.State.Terminal() {
		if c := r.CleanupSummary(); c != "" {
			s += "  " + c
		}
	}
	if se := r.LastError(); se != nil && !r.State.Terminal() {
		if se.Status != 0 {
			s += fmt.Sprintf("  (retrying %s after %d)", se.Step, se.Status)
		} else {
			s += fmt.Sprintf("  (retrying %s)", se.Step)
		}
	}
	return s
}

// PostSummary is where the post is, as the request meant it. Swonkie's own
// stage would mislead: it reports SCHEDULED for a post being published
// now, and IDEA for a draft.
func (r *Record) PostSummary() string {
	switch {
	case r.PostWithdrawn:
		return "withdrawn"
	case r.PublishedAt != nil:
		return "published"
	case !r.Staged:
		if r.PostCreated {
			return "created"
		}
		return "attached"
	case r.Request.Action == ActionSchedule && r.PostPublishAt != nil:
		return "scheduled for " + r.PostPublishAt.Local().Format(time.DateTime)
	case r.Request.Action == ActionSchedule:
		return "scheduled"
	case r.Request.Action == ActionPublishNow:
		return "publishing"
	}
	return "draft"
}

// CleanupSummary says what is happening to the media after the end; empty
// while nothing is.
func (r *Record) CleanupSummary() string {
	switch r.Cleanup {
	case CleanupPending:
		if r.State == StateSucceeded {
			return "deleting media"
		}
		return "undoing: withdrawing the post and deleting media"
	case CleanupDone:
		return "cleanup done"
	case CleanupKept:
		return "media kept"
	}
	return ""
}

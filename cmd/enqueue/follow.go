package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// pollEvery is how often --wait reads the record.
const pollEvery = 300 * time.Millisecond

// follow shows a pipeline's progress on stderr until it is over: terminal
// and with no cleanup still running, so that a script that goes on after
// it never races the withdrawal of a failed pipeline's post. The exit code
// says how it ended.
func (e *env) follow(cl *tasks.Client, id string, timeout time.Duration) int {
	ctx := e.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	start := time.Now()
	last := ""
	for {
		rec, err := cl.Get(ctx, id)
		if err == nil {
			if line := progressLine(rec); line != last {
				last = line
				fmt.Fprintf(e.stderr, "%6.1fs  %s\n", time.Since(start).Seconds(), line)
			}
			if over(rec) {
				return e.ended(rec)
			}
		} else if ctx.Err() == nil {
			return code(e.fail("publish --wait", err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
			continue
		}
		if e.ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "enqueue publish: interrupted; pipeline %s goes on without this command; follow it with: enqueue status %s\n", id, id)
			return exitInterrupted
		}
		fmt.Fprintf(e.stderr, "enqueue publish: still not over after --timeout %s; pipeline %s goes on; follow it with: enqueue status %s\n", timeout, id, id)
		return exitTimeout
	}
}

// code is the exit code an error from exit carries.
func code(err error) int {
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	if err != nil {
		return exitRuntime
	}
	return exitOK
}

// over: nothing will change any more that a caller waits for.
func over(r *tasks.Record) bool {
	return r.State.Terminal() && r.Cleanup != tasks.CleanupPending
}

// ended says how the pipeline ended, in one line, and picks the exit code.
func (e *env) ended(r *tasks.Record) int {
	var parts []string
	if r.PostID != "" {
		parts = append(parts, "post "+r.PostID+" "+postWords(r))
	}
	if r.Partial {
		parts = append(parts, "partial: "+publicationWords(r))
	}
	if c := cleanupWords(r); c != "" {
		parts = append(parts, c)
	}
	if r.Webhook != nil {
		parts = append(parts, "webhook "+r.Webhook.State)
	}
	tail := ""
	if len(parts) > 0 {
		tail = " (" + strings.Join(parts, ", ") + ")"
	}
	switch r.State {
	case tasks.StateSucceeded:
		fmt.Fprintf(e.stderr, "pipeline %s succeeded%s\n", r.ID, tail)
		return exitOK
	case tasks.StateFailed:
		fmt.Fprintf(e.stderr, "pipeline %s failed: %s%s\n", r.ID, errorWords(r.Error), tail)
	default:
		fmt.Fprintf(e.stderr, "pipeline %s %s%s\n", r.ID, r.State, tail)
	}
	return exitFailed
}

// errorWords is a step error in one phrase. The message already names
// its step ("attach: create post: …"); the step is added only when it
// does not.
func errorWords(se *tasks.StepError) string {
	if se == nil {
		return "no reason recorded"
	}
	msg := se.Message
	if se.Step != "" && !strings.HasPrefix(msg, string(se.Step)) {
		msg = string(se.Step) + ": " + msg
	}
	return msg
}

// progressLine is one line for a person watching. Every part is only
// said when it is true: the post's stage in mediaflow's words (Swonkie
// reports SCHEDULED for a post being published now), cleanup only once
// the pipeline ended, a retry only while it runs.
func progressLine(r *tasks.Record) string {
	items := make([]string, len(r.Media))
	for i, m := range r.Media {
		items[i] = string(m.Status)
	}
	s := fmt.Sprintf("%-9s %-8s media [%s]", r.State, r.Step, strings.Join(items, " "))
	if r.PostID != "" {
		s += "  post " + postWords(r)
	}
	if n := staleLive(r); n > 0 && !r.State.Terminal() {
		s += fmt.Sprintf("  deleting %d abandoned media", n)
	}
	if r.State.Terminal() {
		if c := cleanupWords(r); c != "" {
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

// postWords is where the post is, as the request meant it.
func postWords(r *tasks.Record) string {
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
	case r.Request.Action == tasks.ActionSchedule && r.PostPublishAt != nil:
		return "scheduled for " + r.PostPublishAt.Local().Format(time.DateTime)
	case r.Request.Action == tasks.ActionSchedule:
		return "scheduled"
	case r.Request.Action == tasks.ActionPublishNow:
		return "publishing"
	}
	return "draft"
}

// cleanupWords says what is happening to the media after the end.
func cleanupWords(r *tasks.Record) string {
	switch r.Cleanup {
	case tasks.CleanupPending:
		if r.State == tasks.StateSucceeded {
			return "deleting media"
		}
		return "undoing: withdrawing the post and deleting media"
	case tasks.CleanupDone:
		return "cleanup done"
	case tasks.CleanupKept:
		return "media kept"
	}
	return ""
}

// publicationWords lists each profile's publishing result.
func publicationWords(r *tasks.Record) string {
	parts := make([]string, len(r.Publication))
	for i, p := range r.Publication {
		parts[i] = p.ProfileID + " " + p.PublishStatus
	}
	return strings.Join(parts, ", ")
}

func staleLive(r *tasks.Record) int {
	n := 0
	for _, m := range r.StaleMedia {
		if !m.Deleted && !m.LeftBehind {
			n++
		}
	}
	return n
}

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
func (e *env) follow(cl *tasks.Client, cmd, id string, timeout time.Duration) int {
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
			if line := rec.Progress(); line != last {
				last = line
				fmt.Fprintf(e.stderr, "%6.1fs  %s\n", time.Since(start).Seconds(), line)
			}
			if over(rec) {
				return e.ended(rec)
			}
		} else if ctx.Err() == nil {
			return code(e.fail(cmd, err))
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
			continue
		}
		if e.ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "enqueue %s: interrupted; pipeline %s goes on without this command; follow it with: enqueue follow %s\n", cmd, id, id)
			return exitInterrupted
		}
		fmt.Fprintf(e.stderr, "enqueue %s: still not over after --timeout %s; pipeline %s goes on; follow it with: enqueue follow %s\n", cmd, timeout, id, id)
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
		parts = append(parts, "post "+r.PostID+" "+r.PostSummary())
	}
	if r.Partial {
		parts = append(parts, "partial: "+publicationWords(r))
	}
	if c := r.CleanupSummary(); c != "" {
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

// publicationWords lists each profile's publishing result.
func publicationWords(r *tasks.Record) string {
	parts := make([]string, len(r.Publication))
	for i, p := range r.Publication {
		parts[i] = p.ProfileID + " " + p.PublishStatus
	}
	return strings.Join(parts, ", ")
}

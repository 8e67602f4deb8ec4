package tasks

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mediaflow/mediaflow/swonkie"
)

// checkVerdict asks Swonkie whether the post can publish (GET
// /posts/{id}/validate, swonkie-api.md §4.9) before the stage change that
// publishes or schedules it, the point after which the post may go out.
// The schedule and publishNow calls validate too, but refuse with an
// ordinary 400; asking first fails the pipeline with Swonkie's own
// reasons while nothing but a withdrawable post and its media exist, and
// pre-flight's view (a cached profile directory, mediaflow's rules table)
// cannot be stale about it. An invalid post is a permanent failure: the
// cleanup withdraws the post and deletes the media, as for any.
//
// The run that made or updated the post asks (made: this run holds the
// post it sent). A later run (a retry, a run that finds the post recorded)
// reads the post's stage and goes straight to the stage call, which runs
// the same checks and refuses an invalid post with a 400 and its reasons,
// changing nothing: a third call on every such run would starve a
// throttled fleet's attach, each of whose calls must pass in one run.
func (p *pipeline) checkVerdict(ctx context.Context, r *run, action swonkie.StageAction, made bool) error {
	if action != swonkie.ActionSchedule && action != swonkie.ActionPublishNow {
		return nil // a draft or a review does not publish: Swonkie judges it when it is staged
	}
	if !made {
		return nil
	}
	id := r.rec.PostID
	v, err := p.api.ValidatePost(ctx, id)
	if err != nil {
		return wrap(err, "attach: validate post %s", id)
	}
	if v.Valid {
		return nil
	}
	return &invalidPostError{id: id, v: v}
}

// invalidPostError is Swonkie's verdict that a post cannot publish. It is
// permanent; its status is the verdict's when it came as a 4xx.
type invalidPostError struct {
	id string
	v  *swonkie.Validation
}

func (e *invalidPostError) Error() string {
	parts := make([]string, 0, len(e.v.Errors))
	for _, p := range e.v.Errors {
		if p.Field != "" {
			parts = append(parts, p.Field+": "+p.Message)
		} else {
			parts = append(parts, p.Message)
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "no reason given")
	}
	return fmt.Sprintf("attach: validate post %s: Swonkie says it cannot publish: %s", e.id, strings.Join(parts, "; "))
}

// Unwrap makes it permanent for judge, and carries the status.
func (e *invalidPostError) Unwrap() error {
	if e.v.Status >= 400 {
		return &swonkie.Error{Method: http.MethodGet, Endpoint: "/posts/{id}/validate", StatusCode: e.v.Status, Problems: e.v.Errors}
	}
	return &PermanentError{Err: errors.New("swonkie: the post is not valid")}
}

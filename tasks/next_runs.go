package tasks

import (
	"context"
	"errors"
	"time"

	"github.com/hibiken/asynq"
)

// TaskRun is a task a pipeline waits on, as the queue holds it: when it
// runs next, and how often it failed so far. It is what a person asks
// "when is the next retry" of.
type TaskRun struct {
	Type string `json:"type"`
	// State is asynq's: pending, active, scheduled, retry, archived.
	State string `json:"state"`
	// NextAt is when it runs next; nil while it runs or waits for a
	// worker.
	NextAt    *time.Time `json:"nextAt,omitempty"`
	Retried   int        `json:"retried"`
	LastError string     `json:"lastError,omitempty"`
}

// NextRuns lists the queued tasks of the pipeline's planned next steps
// (the planner's, so a task of a finished step is not shown). A planned
// task the queue does not hold is left out: the sweep enqueues it.
func (c *Client) NextRuns(ctx context.Context, id string) ([]TaskRun, error) {
	rec, err := c.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	insp := asynq.NewInspectorFromRedisClient(c.store.rdb.Client())
	var out []TaskRun
	for _, n := range plan(rec, c.timing) {
		info, err := insp.GetTaskInfo(rowOf(n.typ).queue, n.id())
		switch {
		case errors.Is(err, asynq.ErrTaskNotFound), errors.Is(err, asynq.ErrQueueNotFound):
			continue
		case err != nil:
			return out, err
		}
		run := TaskRun{Type: n.typ, State: info.State.String(), Retried: info.Retried, LastError: info.LastErr}
		if !info.NextProcessAt.IsZero() {
			t := info.NextProcessAt
			run.NextAt = &t
		}
		out = append(out, run)
	}
	return out, nil
}

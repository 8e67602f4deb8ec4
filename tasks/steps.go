package tasks

import (
	"context"
	"time"
)

// Task type names: a public contract (asynqmon shows them, metrics label
// by them). Change only by adding.
const (
	TypeMediaUpload   = "media:upload"
	TypeMediaConfirm  = "media:confirm"
	TypeMediaAwait    = "media:await"
	TypePostAttach    = "post:attach"
	TypePostWatch     = "post:watch"
	TypeMediaCleanup  = "media:cleanup"
	TypeNotifyWebhook = "notify:webhook"
	TypeCleanupSweep  = "cleanup:sweep"
)

// Queues.
const (
	// QueuePipeline carries the steps that move publications forward.
	QueuePipeline = "mediaflow"
	// QueueCleanup carries deletions and the sweep, which may wait.
	QueueCleanup = "mediaflow-cleanup"
	// QueueNotify carries the webhooks to the apps that enqueue.
	QueueNotify = "mediaflow-notify"
)

// step is one row of the step table: everything about a task type.
type step struct {
	typ   string
	step  Step
	queue string
	// timeout bounds one run.
	timeout func(Timing) time.Duration
	// id is the task id of one of its tasks.
	id func(typ string, p Payload) string
	// terminal: the step runs on finished and cancelled pipelines too (it
	// is what they still owe); the others skip them.
	terminal bool
	// inline: when a step's write makes this step needed at once, the
	// worker runs it right there, in the same task, instead of enqueueing
	// it and waiting for asynq to hand it out (one poll interval per hop).
	// A failed inline run is enqueued, so it retries on its own.
	inline bool
	// retries, when set, replaces Timing.MaxRetry as the step's budget of
	// failed runs (a webhook retries for hours instead).
	retries func(Timing) int
	// run does the step's work on a record read just before.
	run func(p *pipeline, ctx context.Context, r *run) error
}

// steps is the step table. What runs after what is the planner's
// (planner.go); how a run starts and ends is run.go's. It is filled by
// init because its handlers reach back to it (through the planner).
var steps []step

func init() {
	steps = []step{
		{typ: TypeMediaUpload, step: StepUpload, queue: QueuePipeline, timeout: uploadTimeout, id: mediaTaskID,
			run: (*pipeline).upload},
		{typ: TypeMediaConfirm, step: StepConfirm, queue: QueuePipeline, timeout: stepTimeout, id: mediaTaskID,
			inline: true, run: (*pipeline).confirm},
		{typ: TypeMediaAwait, step: StepAwait, queue: QueuePipeline, timeout: stepTimeout, id: mediaTaskID,
			run: (*pipeline).await},
		{typ: TypePostAttach, step: StepAttach, queue: QueuePipeline, timeout: stepTimeout, id: pipelineTaskID,
			inline: true, run: (*pipeline).attach},
		{typ: TypePostWatch, step: StepPublish, queue: QueuePipeline, timeout: stepTimeout, id: pipelineTaskID,
			run: (*pipeline).watch},
		{typ: TypeMediaCleanup, step: StepCleanup, queue: QueueCleanup, timeout: stepTimeout, id: cleanupTaskID,
			terminal: true, inline: true, run: (*pipeline).cleanup},
		// Never inline: a delivery waits on a receiver nobody controls, so
		// it runs in the webhook slots only (worker.go splitQueues), not in
		// the publishing slot of the step that made it needed.
		{typ: TypeNotifyWebhook, step: StepDone, queue: QueueNotify, timeout: stepTimeout, id: notifyTaskID,
			terminal: true, retries: notifyRetries, run: (*pipeline).notify},
		// The sweep is not a step of a pipeline: it has its own handler.
		{typ: TypeCleanupSweep, queue: QueueCleanup, timeout: stepTimeout, id: sweepTaskID},
	}
	for _, s := range steps {
		TaskTypes = append(TaskTypes, s.typ)
	}
}

// maxRetry is how many failed runs the step may have before it gives up.
func (s *step) maxRetry(t Timing) int {
	if s.retries != nil {
		return s.retries(t)
	}
	if s.typ == TypeCleanupSweep {
		return -1 // a failed sweep is not retried: the next slot does the same work
	}
	return t.MaxRetry
}

func uploadTimeout(t Timing) time.Duration { return t.UploadTimeout }
func stepTimeout(t Timing) time.Duration   { return t.StepTimeout }

// TaskTypes lists every task type, in table order.
var TaskTypes []string

// Queues lists every queue, with the weight a worker gives it by default.
var Queues = map[string]int{QueuePipeline: 6, QueueCleanup: 1, QueueNotify: 1}

// rowOf returns the row of a task type.
func rowOf(typ string) *step {
	for i := range steps {
		if steps[i].typ == typ {
			return &steps[i]
		}
	}
	panic("tasks: no step table row for task type " + typ)
}

// isMediaStep: the step works on one media item.
func isMediaStep(s Step) bool { return s == StepUpload || s == StepConfirm || s == StepAwait }

package tasks

import (
	"context"
	"errors"
	"time"
)

// Task type names: a public contract (asynqmon shows them, metrics label
// by them). Change only by adding.
const (
	TypePreflight     = "pipeline:preflight"
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
	// inlineAlone is inline only when the write made no other task of this
	// type needed: a single-media publication's one upload runs in its
	// pre-flight's task, several uploads run as tasks, side by side.
	inlineAlone bool
	// budget is how long a failing run is retried before the step gives
	// up (verdict.go decide); owedSince, for a budget by time, is when the
	// work became owed.
	budget    budgetKind
	owedSince func(r *Record, p Payload) time.Time
	// onFailure writes, in the same write as the run's error, what a
	// failed run leaves on the record; gaveUp says the verdict was giveUp.
	// nil: nothing but the error (a cleanup that gives up stays owed, and
	// the sweep enqueues it again).
	onFailure func(r *Record, p Payload, err error, gaveUp bool, now time.Time)
	// run does the step's work on a record read just before.
	run func(p *pipeline, ctx context.Context, r *run) error
}

// steps is the step table. What runs after what is the planner's
// (planner.go); how a run starts and ends is run.go's; how a pipeline
// ends is finish.go's (settle). It is filled by init because its handlers
// reach back to it (through the planner).
var steps []step

func init() {
	steps = []step{
		// The first step: nothing exists on Swonkie yet, so a failure
		// leaves nothing to undo. Its timeout is an upload's, for the
		// upload it may run inline.
		{typ: TypePreflight, step: StepPreflight, queue: QueuePipeline, timeout: uploadTimeout, id: pipelineTaskID,
			onFailure: preflightFailed, run: (*pipeline).preflight},
		{typ: TypeMediaUpload, step: StepUpload, queue: QueuePipeline, timeout: uploadTimeout, id: mediaTaskID,
			inlineAlone: true, onFailure: failPipeline, run: (*pipeline).upload},
		{typ: TypeMediaConfirm, step: StepConfirm, queue: QueuePipeline, timeout: stepTimeout, id: mediaTaskID,
			inline: true, onFailure: failPipeline, run: (*pipeline).confirm},
		{typ: TypeMediaAwait, step: StepAwait, queue: QueuePipeline, timeout: stepTimeout, id: mediaTaskID,
			onFailure: failPipeline, run: (*pipeline).await},
		{typ: TypePostAttach, step: StepAttach, queue: QueuePipeline, timeout: stepTimeout, id: attachTaskID,
			inline: true, onFailure: failAttach, run: (*pipeline).attach},
		{typ: TypePostWatch, step: StepPublish, queue: QueuePipeline, timeout: stepTimeout, id: pipelineTaskID,
			onFailure: failPipeline, run: (*pipeline).watch},
		{typ: TypeMediaCleanup, step: StepCleanup, queue: QueueCleanup, timeout: stepTimeout, id: cleanupTaskID,
			terminal: true, inline: true, run: (*pipeline).cleanup},
		// Never inline: a delivery waits on a receiver nobody controls, so
		// it runs in the webhook slots only (worker.go splitQueues), not in
		// the publishing slot of the step that made it needed.
		{typ: TypeNotifyWebhook, step: StepNotify, queue: QueueNotify, timeout: stepTimeout, id: notifyTaskID,
			terminal: true, budget: byTime, owedSince: noticeMadeAt, onFailure: deliveryFailed,
			run: (*pipeline).notify},
		// The sweep is not a step of a pipeline: it has its own handler.
		{typ: TypeCleanupSweep, queue: QueueCleanup, timeout: stepTimeout, id: sweepTaskID, budget: oneRun},
	}
	for _, s := range steps {
		TaskTypes = append(TaskTypes, s.typ)
	}
}

// failPipeline is the onFailure of the steps that move a pipeline
// forward: a step that gives up fails its pipeline (settle makes it so).
func failPipeline(r *Record, _ Payload, _ error, gaveUp bool, _ time.Time) {
	if gaveUp {
		r.in.GaveUp = true
	}
}

// failAttach is failPipeline, and remembers a stage call that went
// unanswered and may have landed: its post may go out (Record.mayGoOut).
// It is remembered from the run whose call it was, not only when the step
// gives up on that call: a later run that gives up on something else (its
// read of the stage refused or unanswered) has not learnt that the call did
// not land, and the pipeline ending failed at once would report a post that
// went out as failed (I8).
func failAttach(r *Record, pl Payload, err error, gaveUp bool, now time.Time) {
	failPipeline(r, pl, err, gaveUp, now)
	if errors.As(err, new(stageLanding)) {
		r.in.StageUnanswered = true
	}
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

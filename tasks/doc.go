// Package tasks is mediaflow's pipeline: the publish request, the record
// every step writes, the asynq task handlers, the worker that runs them,
// the sweep, and the Go API (Client) that other programs use to publish,
// follow and cancel.
//
// # Where the state machine lives
//
// docs/design.md tells the whole of it; in short, read in this order:
//
//   - steps.go: the step table, one row per task type (its step, queue,
//     timeout, task id, whether it runs on finished pipelines, whether it
//     may run inline, its retry budget, what a failed run leaves on the
//     record, its handler).
//   - planner.go: plan, a pure function from a record to the tasks that
//     must exist next. Every run ends by asking it, and so do
//     Client.Publish, Client.Cancel and the sweep.
//   - run.go: how one run starts (read the record, skip a finished
//     pipeline, watch for a cancel) and ends (record a failure with its
//     verdict, hand on the work its writes made needed).
//   - finish.go: where endings are decided. settle derives from a record's
//     facts whether the pipeline succeeded, was cancelled or must fail,
//     its step, what its cleanup owes and the events it owes; it is the
//     only code that assigns a state, and it runs inside write, the one
//     path of every worker write. observe emits every metric, from the
//     record before and after a write that took effect.
//   - verdict.go: every retry and give-up decision: one verdict per error,
//     the step's budget, asynq's RetryDelayFunc and IsFailure, the outcome
//     the metrics middleware counts, retries at once, what an answer to a
//     removal means.
//
// trace.go makes a pipeline one OpenTelemetry trace: the span each run
// of a task is, the trace context a payload carries on, and when that is
// a parent and when a link (docs/design.md, "Traces").
//
// The step_*.go files do the work of one step each and record facts (a
// media id, the post staged, the post published, a media deleted, a step
// that gave up); they never end a pipeline, never enqueue, and never emit
// a metric.
//
// # The post
//
// request.go and post_content.go are the publish request: what a post may
// say (per-network captions and media, links, option objects, labels,
// review) and the checks the Swonkie docs call for, made before anything
// is queued; decode.go reads it strictly, naming an unknown field's path.
// The attach step (step_attach.go) resolves label names once per
// workspace (labels.go), makes the post from the request (postInput), and
// after a lost answer finds it again (adopt.go): by the media ids only
// this pipeline has, or, for a post without media, by its content and the
// ownership recorded in Redis (docs/design.md, "Posts without media").
//
// # Adding a step
//
// A new step is one row in steps.go, one handler file (step_<name>.go), and,
// if it changes what comes after what, one line in plan (and, if it adds a
// way to end, one case in settle). The webhook step (notify:webhook,
// step_notify.go) was added that way.
//
// # Storage
//
// Records live in Redis behind internal/rdb, whose doc.go documents the key
// layout and the Lua scripts: a record and its index entries change
// together, in one script call, in one hash slot (so it runs on Redis
// Cluster too).
package tasks

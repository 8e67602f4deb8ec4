// Package tasks is mediaflow's pipeline: the publish request, the record
// every step writes, the asynq task handlers, the worker that runs them,
// the sweep, and the Go API (Client) that other programs use to publish,
// follow and cancel.
//
// # Where the state machine lives
//
// A pipeline's whole life is in five files, read in this order:
//
//   - steps.go: the step table, one row per task type (its step, queue,
//     timeout, task id, whether it runs on finished pipelines, whether it
//     may run inline, its handler).
//   - planner.go: plan, a pure function from a record to the tasks that
//     must exist next. Every run ends by asking it, and so do
//     Client.Publish, Client.Cancel and the sweep.
//   - run.go: how one run starts (read the record, skip a finished
//     pipeline, watch for a cancel) and ends (record a failure as its
//     verdict says, hand on the work its writes made needed).
//   - finish.go: end, the only code that moves a record to a terminal
//     state, and write, after which the metrics and next tasks of a change
//     are decided from the record before and after the compare-and-set
//     that made it, so nothing is counted or enqueued twice.
//   - verdict.go: one verdict per error (retry, wait for Retry-After, look
//     again later, fail), read by the handler, asynq's RetryDelayFunc and
//     IsFailure, and the metrics middleware.
//
// The step_*.go files do the work of one step each, and only write the
// record; they never enqueue.
//
// # Adding a step
//
// A new step is one row in steps.go, one handler file (step_<name>.go), and,
// if it changes what comes after what, one line in plan. The webhook step
// (notify:webhook, step_notify.go) was added that way.
//
// # Storage
//
// Records live in Redis behind tasks/internal/rdb, whose doc.go documents
// the key layout and the Lua scripts: a record and its index entries
// change together, in one script call, in one hash slot (so it runs on
// Redis Cluster too).
package tasks

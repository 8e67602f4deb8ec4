package tasks

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/tracing"
)

// PayloadVersion is the newest version of the payload JSON this code
// writes and reads. Version 3 adds the trace context (Trace, Link); a
// payload without any is written as version 2, so a fleet that runs with
// tracing off never hands a task to an older worker that would refuse it.
// Version 1 (written by workers before the step table) is still read: its
// extra fields (poll, reason, resume) are ignored, since everything they
// said is now read from the record.
const PayloadVersion = 3

// payloadUntraced is the version of a payload that carries no trace
// context.
const payloadUntraced = 2

// Payload is the JSON of every mediaflow task: the pipeline and which of
// its tasks this is. Everything else a step needs is read from the
// pipeline record, so payloads stay small and carry no secrets.
type Payload struct {
	V          int    `json:"v"`
	PipelineID string `json:"pipelineId,omitempty"`
	// Item and Generation name the media entry of a media step.
	Item       int `json:"item,omitempty"`
	Generation int `json:"generation,omitempty"`
	// Round tells a pipeline's cleanups apart: it grows whenever new
	// cleanup work may have appeared (cleanupRound). For post:attach it is
	// the edit generation the task was planned for (attachTaskID).
	Round int `json:"round,omitempty"`
	// Event is the event type a notify:webhook task delivers, and
	// Redelivery numbers a redelivery someone asked for.
	Event      string `json:"event,omitempty"`
	Redelivery int    `json:"redelivery,omitempty"`
	// Attempt is the pipeline's attempt the task belongs to (its replays,
	// Record.Replays): a replay's tasks get ids of their own, since an
	// earlier attempt's task that gave up stays archived under its id.
	Attempt int `json:"attempt,omitempty"`
	// Slot is the sweep's time slot.
	Slot string `json:"slot,omitempty"`
	// Trace is the span the task's runs descend from (the one that made
	// the task needed); Link, instead, a span they start a new trace
	// linked to (trace.go says which when). W3C trace context only.
	Trace tracing.Carrier `json:"trace,omitempty"`
	Link  tracing.Carrier `json:"link,omitempty"`
}

func decodePayload(t *asynq.Task) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("%s payload is not JSON: %w", t.Type(), err)
	}
	if p.V < 1 || p.V > PayloadVersion {
		return p, fmt.Errorf("%s payload version %d is not supported (this worker reads 1 to %d)", t.Type(), p.V, PayloadVersion)
	}
	if p.PipelineID == "" && t.Type() != TypeCleanupSweep {
		return p, fmt.Errorf("%s payload has no pipelineId", t.Type())
	}
	return p, nil
}

func newTask(typ string, p Payload) *asynq.Task {
	p.V = payloadUntraced
	if len(p.Trace) > 0 || len(p.Link) > 0 {
		p.V = PayloadVersion
	}
	b, err := json.Marshal(p)
	if err != nil {
		// A struct of strings and ints always encodes.
		panic(err)
	}
	return asynq.NewTask(typ, b)
}

// Task ids. A second enqueue of a task whose id exists in asynq (in any
// state) is refused, which makes enqueueing a task the planner asks for
// safe to repeat.
//
// An id starts with the pipeline id without its dashes, then the task type
// and what tells its tasks apart: asynqmon shows an id up to its first
// '-', and a UUIDv7's first block is the same for every pipeline made in
// the same minute.

func compactID(pipelineID string) string { return strings.ReplaceAll(pipelineID, "-", "") }

func mediaTaskID(typ string, p Payload) string {
	return "mf:" + compactID(p.PipelineID) + attemptTag(p) + ":" + typ + ":" + strconv.Itoa(p.Item) + "." + strconv.Itoa(p.Generation)
}

func pipelineTaskID(typ string, p Payload) string {
	return "mf:" + compactID(p.PipelineID) + attemptTag(p) + ":" + typ
}

// attemptTag tells a replay's tasks from the earlier attempts'; the first
// attempt's ids are what they always were.
func attemptTag(p Payload) string {
	if p.Attempt == 0 {
		return ""
	}
	return ".a" + strconv.Itoa(p.Attempt)
}

// attachTaskID tells apart the attach planned after each edit: an edit
// may land while the attach run that staged the post is still active in
// asynq, and a task with the same id would be refused, leaving the edit
// for the sweep. The first attach keeps the id it always had.
func attachTaskID(typ string, p Payload) string {
	if p.Round == 0 {
		return pipelineTaskID(typ, p)
	}
	return pipelineTaskID(typ, p) + ":e" + strconv.Itoa(p.Round)
}

func cleanupTaskID(typ string, p Payload) string {
	return pipelineTaskID(typ, p) + ":" + strconv.Itoa(p.Round)
}

func notifyTaskID(typ string, p Payload) string {
	id := pipelineTaskID(typ, p) + ":" + p.Event
	if p.Redelivery > 0 {
		id += ":r" + strconv.Itoa(p.Redelivery)
	}
	return id
}

func sweepTaskID(_ string, p Payload) string { return "mf:sweep:" + p.Slot }

// legacyTaskID is the id version-1 workers gave the steps whose effects
// must not run twice; the sweep looks for these too before it enqueues a
// step again, so a rolling upgrade cannot run a step twice.
func legacyTaskID(typ string, p Payload) (string, bool) {
	base := "mf:" + p.PipelineID + ":" + typ
	switch typ {
	case TypeMediaUpload, TypeMediaConfirm:
		return base + ":" + strconv.Itoa(p.Item) + ":" + strconv.Itoa(p.Generation), true
	case TypePostAttach:
		return base, true
	}
	return "", false
}

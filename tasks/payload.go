package tasks

import (
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/hibiken/asynq"
)

// Task type names: a public contract (asynqmon shows them, metrics label
// by them). Change only by adding.
const (
	TypeMediaUpload  = "media:upload"
	TypeMediaConfirm = "media:confirm"
	TypeMediaAwait   = "media:await"
	TypePostAttach   = "post:attach"
	TypePostWatch    = "post:watch"
	TypeMediaCleanup = "media:cleanup"
	TypeCleanupSweep = "cleanup:sweep"
)

// TaskTypes lists every task type.
var TaskTypes = []string{
	TypeMediaUpload, TypeMediaConfirm, TypeMediaAwait, TypePostAttach,
	TypePostWatch, TypeMediaCleanup, TypeCleanupSweep,
}

// Queues.
const (
	// QueuePipeline carries the steps that move publications forward.
	QueuePipeline = "mediaflow"
	// QueueCleanup carries deletions and the sweep, which may wait.
	QueueCleanup = "mediaflow-cleanup"
)

// PayloadVersion is the version of the payload JSON this code writes. A
// handler refuses versions it does not know rather than guess.
const PayloadVersion = 1

// Payload is the JSON of every mediaflow task: the pipeline and where in it
// the step is. Everything else a step needs is read from the pipeline
// record, so payloads stay small and carry no secrets.
type Payload struct {
	V          int    `json:"v"`
	PipelineID string `json:"pipelineId,omitempty"`
	// Item is the media item of a media step.
	Item int `json:"item,omitempty"`
	// Generation is the item's media entry the step is for.
	Generation int `json:"generation,omitempty"`
	// Poll counts re-enqueues of a waiting step.
	Poll int `json:"poll,omitempty"`
	// Reason says why a cleanup runs (after_publish, compensation,
	// cancelled, sweep).
	Reason string `json:"reason,omitempty"`
	// Slot is the sweep's time slot.
	Slot string `json:"slot,omitempty"`
	// Resume counts hand-overs of a step to a fresh task (a 429 on the
	// last attempt allowed), so each copy has its own task id.
	Resume int `json:"resume,omitempty"`
}

func decodePayload(t *asynq.Task) (Payload, error) {
	var p Payload
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return p, fmt.Errorf("%s payload is not JSON: %w", t.Type(), err)
	}
	if p.V != PayloadVersion {
		return p, fmt.Errorf("%s payload version %d is not supported (this worker reads %d)", t.Type(), p.V, PayloadVersion)
	}
	if p.PipelineID == "" && t.Type() != TypeCleanupSweep {
		return p, fmt.Errorf("%s payload has no pipelineId", t.Type())
	}
	return p, nil
}

// taskID is the deterministic asynq task id of a step: a second enqueue
// of the same step while the first exists is refused (ErrTaskIDConflict),
// which the chaining code takes as "already enqueued".
func taskID(typ string, p Payload) string {
	id := "mf:" + p.PipelineID + ":" + typ
	switch typ {
	case TypeMediaUpload, TypeMediaConfirm:
		id += ":" + strconv.Itoa(p.Item) + ":" + strconv.Itoa(p.Generation)
	case TypeMediaAwait:
		id += ":" + strconv.Itoa(p.Item) + ":" + strconv.Itoa(p.Generation) + ":" + strconv.Itoa(p.Poll)
	case TypePostWatch:
		id += ":" + strconv.Itoa(p.Poll)
	case TypeMediaCleanup:
		id += ":" + p.Reason + ":" + strconv.Itoa(p.Poll)
	case TypeCleanupSweep:
		id = "mf:sweep:" + p.Slot
	}
	if p.Resume > 0 {
		id += ":r" + strconv.Itoa(p.Resume)
	}
	return id
}

func newTask(typ string, p Payload) *asynq.Task {
	p.V = PayloadVersion
	b, err := json.Marshal(p)
	if err != nil {
		// A struct of strings and ints always encodes.
		panic(err)
	}
	return asynq.NewTask(typ, b)
}

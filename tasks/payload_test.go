package tasks

import (
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
)

// asynqmon shows a task id up to its first '-'. Ids of different pipelines
// made in the same moment (UUIDv7s share their first block) must differ
// there, and the ids of one pipeline's tasks must differ from each other.
func TestTaskIDsAreDistinctWhereAsynqmonCutsThem(t *testing.T) {
	t.Parallel()
	a, b := uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String()
	if a[:8] != b[:8] {
		t.Skip("the two ids fell in different milliseconds; the property holds trivially")
	}
	shown := func(id string) string { before, _, _ := strings.Cut(id, "-"); return before }
	seen := map[string]string{}
	for _, pid := range []string{a, b} {
		for _, n := range []next{
			{typ: TypeMediaUpload, pl: Payload{PipelineID: pid, Item: 0}},
			{typ: TypeMediaUpload, pl: Payload{PipelineID: pid, Item: 1}},
			{typ: TypeMediaUpload, pl: Payload{PipelineID: pid, Item: 0, Generation: 1}},
			{typ: TypeMediaConfirm, pl: Payload{PipelineID: pid}},
			{typ: TypeMediaAwait, pl: Payload{PipelineID: pid}},
			{typ: TypePostAttach, pl: Payload{PipelineID: pid}},
			{typ: TypePostAttach, pl: Payload{PipelineID: pid, Round: 1}},
			{typ: TypePostWatch, pl: Payload{PipelineID: pid}},
			{typ: TypeMediaCleanup, pl: Payload{PipelineID: pid, Round: 1}},
			{typ: TypeMediaCleanup, pl: Payload{PipelineID: pid, Round: 2}},
			{typ: TypeNotifyWebhook, pl: Payload{PipelineID: pid, Event: EventSucceeded}},
			{typ: TypeNotifyWebhook, pl: Payload{PipelineID: pid, Event: EventSucceeded, Redelivery: 1}},
		} {
			s := shown(n.id())
			if other, dup := seen[s]; dup {
				t.Errorf("asynqmon shows %q for both %s and %s", s, other, n.id())
			}
			seen[s] = n.id()
		}
	}
	if s := shown(sweepTaskID("", Payload{Slot: "1796222016"})); s != "mf:sweep:1796222016" {
		t.Errorf("sweep id shows as %q", s)
	}
}

// Version-1 and version-2 payloads, queued by workers before the step
// table and before traces, still run.
func TestVersionOnePayloadsAreRead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, body string
		ok         bool
	}{
		{"v1 with its old fields", `{"v":1,"pipelineId":"p","item":2,"generation":1,"poll":7,"reason":"x"}`, true},
		{"v2", `{"v":2,"pipelineId":"p","item":2,"generation":1}`, true},
		{"v3 with its trace context", `{"v":3,"pipelineId":"p","item":2,"generation":1,"trace":{"traceparent":"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}}`, true},
		{"a future version", `{"v":4,"pipelineId":"p"}`, false},
		{"no pipeline", `{"v":2}`, false},
		{"not JSON", `{`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pl, err := decodePayload(newRawTask(TypeMediaUpload, tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("decode %s: %v", tt.body, err)
			}
			if tt.ok && (pl.PipelineID != "p" || pl.Item != 2 || pl.Generation != 1) {
				t.Fatalf("decoded %+v", pl)
			}
		})
	}
}

func newRawTask(typ, body string) *asynq.Task { return asynq.NewTask(typ, []byte(body)) }

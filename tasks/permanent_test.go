package tasks

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/source"
)

// Permanent errors stop the step at once (no retry), fail the pipeline
// with the step, status and reason, and clean up what was created.
func TestPermanentErrorsFailWithoutRetriesAndCleanUp(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		setup    []func(*setupConfig)
		request  func(b *bundle) Request
		client   func(b *bundle) *Client // publish through another client, when set
		step     Step
		status   int
		contains string
		created  int // media the sandbox saw created
		// createdUpTo: created is at most, not exactly: an upload running
		// beside the failing one creates its entry only if it got that far
		// before the pipeline failed.
		createdUpTo bool
	}{
		{
			name: "unknown profile",
			request: func(b *bundle) Request {
				r := b.request(ActionPublishNow, "a.png")
				r.Post.ProfileIDs = []string{"bm90LWEtcHJvZmlsZQ=="}
				return r
			},
			step: StepAttach, status: http.StatusBadRequest, contains: "profile", created: 1,
		},
		{
			name: "expired profile",
			request: func(b *bundle) Request {
				r := b.request(ActionPublishNow, "a.png", "b.png")
				r.Post.ProfileIDs = []string{b.expired}
				return r
			},
			step: StepAttach, status: http.StatusBadRequest, contains: "profile", created: 2,
		},
		{
			name:    "unsupported file",
			request: func(b *bundle) Request { return b.request(ActionPublishNow, "a.png", "notes.txt") },
			step:    StepUpload, contains: "not an image or video", created: 1, createdUpTo: true,
		},
		{
			name:    "file outside MEDIA_ROOT",
			request: func(b *bundle) Request { return b.request(ActionPublishNow, "../../etc/hostname") },
			// The enqueue side refuses this too; a client without the
			// check shows the worker refuses it on its own.
			client: func(b *bundle) *Client { return NewClient(b.redis.Client, WithTiming(testTiming), WithoutPreflight()) },
			step:   StepUpload, contains: "outside", created: 0,
		},
		{
			name:    "missing file",
			request: func(b *bundle) Request { return b.request(ActionPublishNow, "nope.png") },
			step:    StepUpload, contains: "nope.png", created: 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.setup...)
			c := b.client
			if tt.client != nil {
				c = tt.client(b)
				defer c.Close()
			}
			rec, _, err := c.Publish(context.Background(), tt.request(b))
			if err != nil {
				t.Fatal(err)
			}
			rec = b.wait(rec.ID)
			if rec.State != StateFailed || rec.Error == nil {
				t.Fatalf("ended %s", dump(rec))
			}
			e := rec.Error
			if e.Step != tt.step || e.Status != tt.status || !e.Permanent || !strings.Contains(e.Message, tt.contains) {
				t.Errorf("error %+v; want step %s, status %d, permanent, containing %q", e, tt.step, tt.status, tt.contains)
			}
			// Each layer says its own part once: never "open source: open source …".
			if n := strings.Count(e.Message, "open source"); n > 1 {
				t.Errorf("the message says \"open source\" %d times: %q", n, e.Message)
			}
			if hasEvent(rec, "", "retry", "") {
				t.Errorf("a permanent error was retried: %s", dump(rec))
			}
			rec = b.settled(rec.ID)
			if rec.Cleanup != CleanupDone {
				t.Errorf("cleanup %s, want done", rec.Cleanup)
			}
			if st := b.sb.Server.Stats(); st.Media.Created != tt.created && !(tt.createdUpTo && st.Media.Created < tt.created) {
				t.Errorf("%d media created, want %d", st.Media.Created, tt.created)
			}
			b.assertDeleted(rec)
			b.assertClean()
			// The step's task is archived with no retry used.
			insp := asynq.NewInspectorFromRedisClient(b.redis.Client)
			archived, err := insp.ListArchivedTasks(QueuePipeline)
			if err != nil {
				t.Fatal(err)
			}
			found := false
			for _, ti := range archived {
				if strings.Contains(ti.ID, compactID(rec.ID)) {
					found = true
					if ti.Retried != 0 {
						t.Errorf("archived %s after %d retries", ti.Type, ti.Retried)
					}
				}
			}
			// A step run inline (right after the one before it, in the
			// same task) has no task of its own to archive; then no task
			// of the pipeline may be waiting to retry either.
			if !found && !rowOf(stepType(tt.step)).inline {
				t.Errorf("no archived task for the failed step")
			}
			if retrying, _ := insp.ListRetryTasks(QueuePipeline); slices.ContainsFunc(retrying, func(ti *asynq.TaskInfo) bool {
				return strings.Contains(ti.ID, compactID(rec.ID))
			}) {
				t.Errorf("a task of the failed pipeline waits to retry")
			}
		})
	}
}

// The source package classifies the refusal; make sure the pipeline takes
// its word for it.
func TestSourceRefusalIsPermanent(t *testing.T) {
	t.Parallel()
	o, err := source.New(source.Config{Root: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = o.Open(context.Background(), "/etc/hostname", source.Hint{})
	if err == nil || !IsPermanent(err) {
		t.Fatalf("open outside root: %v (permanent=%v)", err, IsPermanent(err))
	}
}

// stepType is the task type of a pipeline step.
func stepType(s Step) string {
	for _, row := range steps {
		if row.step == s {
			return row.typ
		}
	}
	return ""
}

package tasks

import (
	"strings"
	"testing"
	"time"
)

// TestProgressSaysOnlyWhatIsTrue: the line enqueue --wait and worker -demo
// print names the post as the request meant it (never Swonkie's SCHEDULED
// for a post published now), cleanup only after the end, and a retry only
// while it runs.
func TestProgressSaysOnlyWhatIsTrue(t *testing.T) {
	t.Parallel()
	at := time.Date(2030, 3, 21, 9, 0, 0, 0, time.UTC)
	err429 := &StepError{Step: StepUpload, Status: 429, Message: "upload: rate limited"}
	rec := func(f func(r *Record)) *Record {
		r := &Record{State: StateRunning, Step: StepUpload, Media: []MediaItem{{Status: ItemCreated}},
			Request: Request{Action: ActionPublishNow}}
		f(r)
		return r
	}
	tests := []struct {
		name      string
		rec       *Record
		want, not []string
	}{
		{"uploading with a stale media being deleted", rec(func(r *Record) {
			r.Cleanup = CleanupPending
			r.StaleMedia = []StaleMedia{{MediaID: "m0"}}
		}), []string{"running   upload   media [created]", "deleting 1 abandoned media"}, []string{"cleanup", "undoing"}},
		{"retrying after 429", rec(func(r *Record) { r.Error = err429 }), []string{"(retrying upload after 429)"}, nil},
		{"publish now, staged: Swonkie says SCHEDULED", rec(func(r *Record) {
			r.Step, r.PostID, r.PostCreated, r.PostStage, r.Staged = StepPublish, "p1", true, "SCHEDULED", true
		}), []string{"post publishing"}, []string{"SCHEDULED", "scheduled"}},
		{"post created, not staged", rec(func(r *Record) { r.Step, r.PostID, r.PostCreated = StepAttach, "p1", true }), []string{"post created"}, nil},
		{"scheduled", rec(func(r *Record) {
			r.Request.Action, r.PostID, r.PostCreated, r.Staged, r.PostPublishAt = ActionSchedule, "p1", true, true, &at
		}), []string{"post scheduled for " + at.Local().Format(time.DateTime)}, nil},
		{"published, deleting media", rec(func(r *Record) {
			now := at
			r.State, r.Step, r.PostID, r.Staged, r.PublishedAt, r.Cleanup = StateSucceeded, StepCleanup, "p1", true, &now, CleanupPending
		}), []string{"post published", "deleting media"}, []string{"retrying"}},
		{"succeeded with a recovered 429", rec(func(r *Record) {
			r.State, r.Error, r.Cleanup = StateSucceeded, err429, CleanupDone
		}), []string{"cleanup done"}, []string{"retrying", "429"}},
		{"failed, compensating", rec(func(r *Record) {
			r.State, r.PostID, r.PostCreated, r.Cleanup = StateFailed, "p1", true, CleanupPending
		}), []string{"undoing: withdrawing the post and deleting media"}, nil},
		{"failed, withdrawn", rec(func(r *Record) {
			r.State, r.PostID, r.PostWithdrawn, r.Cleanup = StateFailed, "p1", true, CleanupDone
		}), []string{"post withdrawn", "cleanup done"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.rec.Progress()
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q lacks %q", got, w)
				}
			}
			for _, n := range tt.not {
				if strings.Contains(got, n) {
					t.Errorf("%q says %q", got, n)
				}
			}
		})
	}
}

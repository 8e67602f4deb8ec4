package tasks

import (
	"strings"
	"testing"
	"time"
)

func progressed(r *Record) { r.in.ProgressAt = t0.Add(time.Second) }

func pending(r *Record) { r.State = StatePending }

func gaveUp(step Step) func(*Record) {
	return func(r *Record) {
		r.in.GaveUp = true
		r.Error = &StepError{Step: step, Message: "gave up", At: t0}
	}
}

func withdrawn(r *Record) { r.PostWithdrawn = true }

func wantsEvents(events ...string) func(*Record) {
	return func(r *Record) { r.Request.Webhook = &WebhookSpec{URL: "https://app.example/own", Events: events} }
}

// TestSettle: what a record's facts add up to. settle is the only code
// that assigns a terminal state; steps only record facts (docs/design.md,
// I8).
func TestSettle(t *testing.T) {
	t.Parallel()
	const hook = "https://app.example/hook"
	type want struct {
		state   State
		step    Step
		cleanup CleanupState
		events  []string // notices owed, in order
		note    string   // a history message settle adds
		notNote string   // a history message settle must not add
	}
	cases := []struct {
		name    string
		r       *Record
		want    want
		changed bool
	}{
		// Running: the step follows the facts, never back.
		{"accepted, no step wrote yet: still pending", rec(1, pending), want{state: StatePending, step: StepAccepted}, false},
		{"a step wrote: running", rec(1, pending, progressed), want{state: StateRunning, step: StepAccepted}, true},
		{"a media entry exists: upload", rec(2, item(0, ItemCreated)), want{state: StateRunning, step: StepUpload}, true},
		{"uploaded: confirm", rec(2, item(0, ItemUploaded)), want{state: StateRunning, step: StepConfirm}, true},
		{"confirmed: await", rec(2, item(0, ItemReady), item(1, ItemConfirmed)), want{state: StateRunning, step: StepAwait}, true},
		{"all ready: attach", rec(2, allItems(ItemReady)), want{state: StateRunning, step: StepAttach}, true},
		{"staged: publish", rec(1, item(0, ItemReady), staged), want{state: StateRunning, step: StepPublish}, true},
		{"the step never goes back (an item restarted)", rec(1, func(r *Record) { r.Step = StepAwait; r.Media[0].Generation = 1 }),
			want{state: StateRunning, step: StepAwait}, false},

		// Success.
		{"published, media to delete: cleanup", rec(1, item(0, ItemReady), published),
			want{state: StateRunning, step: StepCleanup, cleanup: CleanupPending}, true},
		{"published and deleted: succeeded", rec(1, item(0, ItemReady), published, deleted),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupDone, events: []string{EventSucceeded}}, true},
		{"published, policy never: succeeded, media kept", rec(1, policy(CleanupNever), item(0, ItemReady), published),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupKept, events: []string{EventSucceeded}}, true},
		{"a draft succeeds once attached, its media kept", rec(1, action(ActionDraft), item(0, ItemReady), staged),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupKept, events: []string{EventSucceeded}}, true},
		{"a published post never fails (a step gave up after it went out)", rec(1, item(0, ItemReady), published, deleted, gaveUp(StepPublish)),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupDone, events: []string{EventSucceeded}}, true},

		// Failure: only a step that gave up.
		{"a step gave up: failed at that step, compensation owed", rec(2, allItems(ItemReady), posted, gaveUp(StepAttach)),
			want{state: StateFailed, step: StepAttach, cleanup: CleanupPending, events: []string{EventFailed}}, true},
		{"gave up on a staged post: not failed until it is withdrawn (it may go out)", rec(1, item(0, ItemReady), staged, gaveUp(StepPublish)),
			want{state: StateRunning, step: StepPublish, cleanup: CleanupPending}, true},
		{"gave up on a staged post, now withdrawn: failed", rec(1, item(0, ItemReady), staged, withdrawn, gaveUp(StepPublish)),
			want{state: StateFailed, step: StepPublish, cleanup: CleanupPending, events: []string{EventFailed}}, true},
		{"gave up before any media: failed, nothing owed", rec(1, gaveUp(StepUpload)),
			want{state: StateFailed, step: StepUpload, cleanup: CleanupDone, events: []string{EventFailed}}, true},
		{"a retry is not a failure", rec(1, item(0, ItemCreated), func(r *Record) { r.Error = &StepError{Step: StepUpload, Message: "503"} }),
			want{state: StateRunning, step: StepUpload}, true},

		// Cancel.
		{"cancel with nothing to undo: cancelled", rec(1, cancelRequested),
			want{state: StateCancelled, step: StepDone, cleanup: CleanupDone, events: []string{EventCancelled}, note: "cancelled"}, true},
		{"cancel with media to delete: not yet", rec(1, item(0, ItemCreated), cancelRequested),
			want{state: StateRunning, step: StepUpload, cleanup: CleanupPending}, true},
		{"cancel with a post to withdraw: not yet", rec(1, item(0, ItemReady), staged, deleted, cancelRequested),
			want{state: StateRunning, step: StepPublish, cleanup: CleanupPending}, true},
		{"cancel, post withdrawn, media deleted: cancelled", rec(1, item(0, ItemReady), staged, withdrawn, deleted, cancelRequested),
			want{state: StateCancelled, step: StepDone, cleanup: CleanupDone, events: []string{EventCancelled}, note: "cancelled"}, true},
		{"a cancelled draft is withdrawn, not succeeded", rec(1, action(ActionDraft), item(0, ItemReady), staged, cancelRequested),
			want{state: StateRunning, step: StepPublish, cleanup: CleanupPending}, true},
		{"cancel too late: the post went out", rec(1, item(0, ItemReady), published, deleted, cancelRequested),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupDone, events: []string{EventSucceeded}, note: "cancel came too late"}, true},
		{"cancel asked while a staged post a step gave up on was withdrawn: failed, the cancel not 'too late'",
			rec(1, item(0, ItemReady), staged, withdrawn, deleted, gaveUp(StepPublish), cancelRequested),
			want{state: StateFailed, step: StepPublish, cleanup: CleanupDone, events: []string{EventFailed}, notNote: "cancel came too late"}, true},

		// Finished records keep their ending; only what the cleanup owes moves.
		{"failed, compensation done", rec(1, item(0, ItemReady), posted, withdrawn, deleted, ended(StateFailed),
			func(r *Record) { r.Cleanup = CleanupPending }), want{state: StateFailed, step: StepAttach, cleanup: CleanupDone}, true},
		{"succeeded stays succeeded", rec(1, item(0, ItemReady), published, deleted, ended(StateSucceeded), func(r *Record) { r.Cleanup = CleanupDone }),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupDone}, false},
		{"kept stays kept", rec(1, action(ActionDraft), item(0, ItemReady), staged, ended(StateSucceeded), stale("med_x"),
			func(r *Record) { r.Cleanup = CleanupKept }), want{state: StateSucceeded, step: StepDone, cleanup: CleanupKept}, false},

		// Events the caller is owed.
		{"attached, when the request asks for it", rec(1, wantsEvents(EventAttached), item(0, ItemReady), staged),
			want{state: StateRunning, step: StepPublish, events: []string{EventAttached}}, true},
		{"attached then succeeded, in that order (a draft)", rec(1, wantsEvents(EventAttached), action(ActionDraft), item(0, ItemReady), staged),
			want{state: StateSucceeded, step: StepDone, cleanup: CleanupKept, events: []string{EventAttached, EventSucceeded}}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := tc.r
			wasTerminal := r.State.Terminal()
			now := t0.Add(time.Hour)
			changed := settle(r, now, hook)
			if changed != tc.changed {
				t.Errorf("settle reported changed=%v, want %v", changed, tc.changed)
			}
			if r.State != tc.want.state || r.Step != tc.want.step || r.Cleanup != tc.want.cleanup {
				t.Errorf("state/step/cleanup = %s/%s/%q, want %s/%s/%q", r.State, r.Step, r.Cleanup, tc.want.state, tc.want.step, tc.want.cleanup)
			}
			if ends := r.State.Terminal() && !wasTerminal; ends != (r.FinishedAt != nil && r.FinishedAt.Equal(now)) {
				t.Errorf("finishedAt = %v; ended by this settle: %v", r.FinishedAt, ends)
			}
			var events []string
			if r.Webhook != nil {
				for _, n := range r.Webhook.Events {
					events = append(events, n.Type)
				}
			}
			if strings.Join(events, ",") != strings.Join(tc.want.events, ",") {
				t.Errorf("events owed %v, want %v", events, tc.want.events)
			}
			if tc.want.note != "" && !hasNote(r, tc.want.note) {
				t.Errorf("no history note %q: %+v", tc.want.note, r.events)
			}
			if tc.want.notNote != "" && hasNote(r, tc.want.notNote) {
				t.Errorf("history note %q on a %s pipeline: %+v", tc.want.notNote, r.State, r.events)
			}
			// Settled facts settle to themselves.
			if settle(r, now.Add(time.Minute), hook) {
				t.Errorf("a second settle changed the record again: %s/%s/%s", r.State, r.Step, r.Cleanup)
			}
		})
	}
}

// TestSettleWebhookGoesWhereTheRequestSays: the request's own webhook wins
// over WEBHOOK_URL; with neither, no event is owed.
func TestSettleWebhookGoesWhereTheRequestSays(t *testing.T) {
	t.Parallel()
	r := rec(1, wantsEvents(), cancelRequested)
	settle(r, t0, "https://default.example/hook")
	if r.Webhook == nil || r.Webhook.URL != "https://app.example/own" {
		t.Fatalf("webhook %+v, want the request's own URL", r.Webhook)
	}
	r = rec(1, cancelRequested)
	settle(r, t0, "")
	if r.Webhook != nil {
		t.Fatalf("no webhook anywhere, yet %+v is owed", r.Webhook)
	}
}

func hasNote(r *Record, msg string) bool {
	for _, e := range append(r.History, r.events...) {
		if strings.Contains(e.Message, msg) {
			return true
		}
	}
	return false
}

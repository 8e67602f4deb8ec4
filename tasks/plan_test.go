package tasks

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// The pure core, read as the lifecycle: plan (planner.go), settle
// (finish.go) and the verdicts (verdict.go) over every state a record can
// be in. These tests need no Redis, no network and no clock (docs/design.md,
// I10):
//
//	go test -run 'Plan|Settle|Judge|Verdict' ./tasks/

// t0 is the time every table record is built around.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := t0.Add(d); return &t }

// rec builds a running record of n media items, all pending, for a
// publishNow request; each option then moves it along.
func rec(n int, opts ...func(*Record)) *Record {
	r := &Record{ID: "0195a0c0-0000-7000-8000-000000000001", State: StateRunning, Step: StepAccepted, CreatedAt: t0,
		Request: Request{Action: ActionPublishNow, Cleanup: CleanupAfterPublish, Post: &PostSpec{ProfileIDs: []string{"p1"}}}}
	for i := range n {
		r.Request.Media = append(r.Request.Media, MediaSource{Source: fmt.Sprintf("m%d.png", i)})
		r.Media = append(r.Media, MediaItem{Source: fmt.Sprintf("m%d.png", i), Status: ItemPending})
	}
	for _, o := range opts {
		o(r)
	}
	return r
}

// item sets media item i to status s (with the media id and times a real
// record would have by then).
func item(i int, s ItemStatus) func(*Record) {
	return func(r *Record) {
		it := &r.Media[i]
		it.Status = s
		if s != ItemPending {
			it.MediaID = fmt.Sprintf("med_%d_%d", i, it.Generation)
			it.MediaCreatedAt = at(time.Second)
		}
		if s.rank() >= ItemConfirmed.rank() {
			it.ConfirmedAt = at(2 * time.Second)
		}
		if s == ItemReady {
			it.ReadyAt = at(3 * time.Second)
		}
	}
}

func allItems(s ItemStatus) func(*Record) {
	return func(r *Record) {
		for i := range r.Media {
			item(i, s)(r)
		}
	}
}

func action(a Action) func(*Record) { return func(r *Record) { r.Request.Action = a } }

func policy(c CleanupPolicy) func(*Record) { return func(r *Record) { r.Request.Cleanup = c } }

func posted(r *Record) { r.PostID, r.PostCreated, r.PostStage = "post_1", true, "IDEA" }

func staged(r *Record) {
	posted(r)
	r.Staged, r.AttachedAt, r.PostStage = true, at(4*time.Second), "SCHEDULED"
}

func scheduledFor(d time.Duration) func(*Record) {
	return func(r *Record) {
		r.Request.Action = ActionSchedule
		r.Request.Post.PublishAt = at(d)
		r.PostPublishAt = at(d)
	}
}

func published(r *Record) {
	staged(r)
	r.PublishedAt, r.PostStage = at(10*time.Second), "PUBLISHED"
}

func deleted(r *Record) {
	for i := range r.Media {
		if r.Media[i].MediaID != "" {
			r.Media[i].Deleted = true
		}
	}
	for i := range r.StaleMedia {
		r.StaleMedia[i].Deleted = true
	}
}

func stale(id string) func(*Record) {
	return func(r *Record) { r.StaleMedia = append(r.StaleMedia, StaleMedia{MediaID: id, Reason: "abandoned"}) }
}

func cancelRequested(r *Record) { r.CancelRequested = true }

func ended(s State) func(*Record) {
	return func(r *Record) {
		r.State, r.FinishedAt = s, at(time.Minute)
		if s == StateFailed {
			r.Step = StepAttach
		} else {
			r.Step = StepDone
		}
	}
}

func owes(event string) func(*Record) {
	return func(r *Record) { r.addNotice("https://app.example/hook", event, t0) }
}

func delivered(event string) func(*Record) {
	return func(r *Record) { r.notice(event).State = DeliveryDelivered }
}

func redelivery(event string) func(*Record) {
	return func(r *Record) {
		n := r.notice(event)
		n.State = DeliveryPending
		n.Redeliveries++
	}
}

// planned describes plan's tasks as "type item.generation @offset",
// "media:cleanup #round" and "notify:webhook event", in plan order.
func planned(r *Record, t Timing) []string {
	var out []string
	for _, n := range plan(r, t) {
		s := n.typ
		switch n.typ {
		case TypeMediaUpload, TypeMediaConfirm, TypeMediaAwait:
			s += fmt.Sprintf(" %d.%d", n.pl.Item, n.pl.Generation)
		case TypeMediaCleanup:
			s += fmt.Sprintf(" #%d", n.pl.Round)
		case TypeNotifyWebhook:
			s += " " + n.pl.Event
			if n.pl.Redelivery > 0 {
				s += fmt.Sprintf(" r%d", n.pl.Redelivery)
			}
		}
		if !n.at.IsZero() {
			s += " @" + n.at.Sub(t0).String()
		}
		out = append(out, s)
	}
	return out
}

func TestPlan(t *testing.T) {
	t.Parallel()
	tm := DefaultTiming
	tm.AwaitFirst, tm.WatchFirst, tm.PublishGrace = time.Second, 2*time.Second, 5*time.Second
	cases := []struct {
		name string
		r    *Record
		want []string
	}{
		// One media, along the happy path of publishNow.
		{"one media, accepted", rec(1), []string{"media:upload 0.0"}},
		{"one media, created (the upload runs in the same task)", rec(1, item(0, ItemCreated)), []string{"media:upload 0.0"}},
		{"one media, uploaded", rec(1, item(0, ItemUploaded)), []string{"media:confirm 0.0"}},
		{"one media, confirmed: the first look after AwaitFirst", rec(1, item(0, ItemConfirmed)), []string{"media:await 0.0 @3s"}},
		{"one media, ready: the fan-in", rec(1, item(0, ItemReady)), []string{"post:attach"}},
		{"post made, not staged yet", rec(1, item(0, ItemReady), posted), []string{"post:attach"}},
		{"publishNow staged: watch it go out", rec(1, item(0, ItemReady), staged), []string{"post:watch @6s"}},
		{"published: delete the media", rec(1, item(0, ItemReady), published), []string{"media:cleanup #2"}},
		{"published and deleted, not settled yet: nothing", rec(1, item(0, ItemReady), published, deleted), nil},
		{"succeeded, its webhook owed", rec(1, item(0, ItemReady), published, deleted, ended(StateSucceeded), owes(EventSucceeded)),
			[]string{"notify:webhook pipeline.succeeded"}},
		{"succeeded, webhook delivered: nothing", rec(1, item(0, ItemReady), published, deleted, ended(StateSucceeded),
			owes(EventSucceeded), delivered(EventSucceeded)), nil},
		{"a redelivery is a task of its own", rec(1, item(0, ItemReady), published, deleted, ended(StateSucceeded),
			owes(EventSucceeded), delivered(EventSucceeded), redelivery(EventSucceeded)),
			[]string{"notify:webhook pipeline.succeeded r1"}},

		// Several media: each item on its own, then one fan-in.
		{"three media, accepted", rec(3), []string{"media:upload 0.0", "media:upload 1.0", "media:upload 2.0"}},
		{"three media at different steps", rec(3, item(0, ItemReady), item(1, ItemConfirmed), item(2, ItemUploaded)),
			[]string{"media:await 1.0 @3s", "media:confirm 2.0"}},
		{"three media, the last one ready", rec(3, allItems(ItemReady)), []string{"post:attach"}},
		{"a restarted item uploads its next generation", rec(2, item(0, ItemReady), func(r *Record) { r.Media[1].Generation = 1 },
			stale("med_1_0")), []string{"media:cleanup #2", "media:upload 1.1"}},

		// Schedule and draft.
		{"scheduled: the first look just after publishAt", rec(1, item(0, ItemReady), scheduledFor(time.Hour), staged),
			[]string{"post:watch @1h0m5s"}},
		{"scheduled, not staged yet", rec(1, item(0, ItemReady), scheduledFor(time.Hour)), []string{"post:attach"}},
		{"a draft ends at attach: nothing more", rec(1, action(ActionDraft), item(0, ItemReady), staged, ended(StateSucceeded)), nil},
		{"never delete: published and succeeded, nothing more", rec(1, policy(CleanupNever), item(0, ItemReady), published,
			ended(StateSucceeded)), nil},

		// Cancels.
		{"cancel before any step: its cleanup ends it", rec(1, cancelRequested), []string{"media:cleanup #1"}},
		{"cancel mid-upload: only the cleanup", rec(2, item(0, ItemCreated), cancelRequested), []string{"media:cleanup #2"}},
		{"cancel after the post was staged", rec(1, scheduledFor(time.Hour), item(0, ItemReady), staged, cancelRequested),
			[]string{"media:cleanup #2"}},
		{"cancelled and clean, its webhook owed", rec(1, item(0, ItemCreated), cancelRequested, deleted, ended(StateCancelled),
			owes(EventCancelled)), []string{"notify:webhook pipeline.cancelled"}},

		// Failures.
		{"failed before any media", rec(1, ended(StateFailed)), nil},
		{"failed after the post: withdraw it, delete the media, tell the app", rec(2, allItems(ItemReady), posted,
			ended(StateFailed), owes(EventFailed)), []string{"media:cleanup #3", "notify:webhook pipeline.failed"}},
		{"failed, withdrawn and deleted: only the webhook", rec(1, item(0, ItemReady), posted, func(r *Record) { r.PostWithdrawn = true },
			deleted, ended(StateFailed), owes(EventFailed)), []string{"notify:webhook pipeline.failed"}},
		{"failed with a duplicate post still to delete", rec(1, item(0, ItemReady), posted, func(r *Record) {
			r.PostWithdrawn = true
			r.in.DupPosts = []string{"post_2"}
		}, deleted, ended(StateFailed)), []string{"media:cleanup #2"}},

		// Stale media are deleted at any time, even while the rest runs.
		{"stale media while uploading", rec(1, item(0, ItemCreated), stale("med_x")), []string{"media:cleanup #2", "media:upload 0.0"}},
		{"stale media while watching", rec(1, item(0, ItemReady), staged, stale("med_x")), []string{"media:cleanup #2", "post:watch @6s"}},
		{"stale media already deleted", rec(1, item(0, ItemReady), staged, stale("med_x"), func(r *Record) { r.StaleMedia[0].Deleted = true }),
			[]string{"post:watch @6s"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := planned(tc.r, tm)
			if !slices.Equal(got, tc.want) {
				t.Errorf("plan = %q\n          want %q", got, tc.want)
			}
			// Pure: the same record plans the same tasks, with the same ids.
			if again := planned(tc.r, tm); !slices.Equal(again, got) {
				t.Errorf("plan is not stable: %q then %q", got, again)
			}
		})
	}
}

// TestPlanCleanupRounds: a cleanup's task id changes exactly when new
// cleanup work may have appeared, so a cleanup that already looked does
// not hide new work, and asking twice for the same work gives one task.
func TestPlanCleanupRounds(t *testing.T) {
	t.Parallel()
	steps := []struct {
		name   string
		change func(*Record)
		grows  bool
	}{
		{"the first media entry is recorded", item(0, ItemCreated), true},
		{"a write that adds no entry", func(r *Record) { r.Attempts++ }, false},
		{"the entry is abandoned (moves to the stale ones)", func(r *Record) {
			r.StaleMedia = append(r.StaleMedia, StaleMedia{MediaID: r.Media[0].MediaID})
			r.Media[0].MediaID, r.Media[0].Status, r.Media[0].Generation = "", ItemPending, 1
		}, false},
		{"its next generation is recorded", item(0, ItemCreated), true},
		{"the second item's entry is recorded", item(1, ItemCreated), true},
		{"media deleted", deleted, false},
		{"a cancel", cancelRequested, true},
		{"the post turns out published", func(r *Record) { r.PublishedAt = at(time.Minute) }, true},
	}
	r := rec(2)
	round := cleanupRound(r)
	for _, s := range steps {
		s.change(r)
		next := cleanupRound(r)
		if grew := next > round; grew != s.grows || next < round {
			t.Errorf("%s: round %d -> %d, want it to grow: %v", s.name, round, next, s.grows)
		}
		round = next
	}
}

// TestPlanNewWork: a write makes needed exactly what the record after it
// plans and the record before it did not (the fan-in appears once).
func TestPlanNewWork(t *testing.T) {
	t.Parallel()
	before := rec(2, item(0, ItemReady), item(1, ItemConfirmed))
	after := rec(2, allItems(ItemReady))
	var got []string
	for _, n := range newWork(before, after, DefaultTiming) {
		got = append(got, n.typ)
	}
	if !slices.Equal(got, []string{TypePostAttach}) {
		t.Fatalf("newWork = %v, want only post:attach", got)
	}
	if w := newWork(after, after, DefaultTiming); len(w) != 0 {
		t.Fatalf("the same record twice made %v needed", w)
	}
}

// An event an earlier attempt made and that is still owed when the
// pipeline is replayed (its receiver was down) is delivered by a task of
// its own attempt: the notify step finds its event by the attempt in its
// payload. Planned under the replay's attempt, the task found no event of
// that attempt (or the replay's own, of the same type) and the earlier
// event stayed pending for ever, the sweep enqueuing it again and again.
func TestPlanKeepsTheAttemptOfAnEarlierAttemptsOwedEvent(t *testing.T) {
	t.Parallel()
	r := rec(1, item(0, ItemReady), func(r *Record) {
		r.Replays = 1
		r.Webhook = &WebhookState{URL: "https://app.example/hook", Events: []Notice{
			{ID: noticeID(r.ID, EventFailed, 0), Type: EventFailed, At: t0, State: DeliveryPending},
		}}
	})
	var found bool
	for _, n := range plan(r, testTiming) {
		if n.typ != TypeNotifyWebhook {
			continue
		}
		found = true
		if n.pl.Attempt != 0 || r.noticeOf(n.pl.Event, n.pl.Attempt) == nil {
			t.Errorf("the first attempt's owed %s is planned as attempt %d, whose event is %v", n.pl.Event, n.pl.Attempt, r.noticeOf(n.pl.Event, n.pl.Attempt))
		}
	}
	if !found {
		t.Fatal("no notify task planned for the owed event")
	}
}

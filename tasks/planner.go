package tasks

import (
	"slices"
	"time"
)

// next is a task a pipeline needs: its type, which of its tasks it is, and
// when it may run (zero: at once).
type next struct {
	typ string
	pl  Payload
	at  time.Time
}

func (n next) id() string { return rowOf(n.typ).id(n.typ, n.pl) }

// plan is the whole lifecycle in one place: from what a record says, the
// tasks that must exist for the pipeline to move on. Every handler ends by
// asking it (run.go), and so do Client.Publish and the sweep. It is pure:
// the same record always gives the same tasks, with the same ids.
//
//	pre-flight owed, not done          → pipeline:preflight (and nothing else yet)
//	each media item:  pending, created → media:upload   (create the entry, stream the file)
//	                  uploaded         → media:confirm  (declare the upload complete)
//	                  confirmed        → media:await    (poll until processing ends)
//	all ready:        not staged       → post:attach    (create or update the post, stage it)
//	                  not published    → post:watch     (poll until it is out)
//	                  published        → media:cleanup  (delete the media, by policy)
//	stale media (at any time)          → media:cleanup
//	finished or cancelled: media:cleanup while anything is owed (a cancel
//	ends in it), and notify:webhook for each event not yet delivered.
func plan(r *Record, t Timing) []next {
	out := planAttempt(r, t)
	for i := range out {
		if out[i].typ == TypeNotifyWebhook {
			// An event keeps the attempt that made it (notifyNext): one an
			// earlier attempt still owes is found by that attempt only.
			continue
		}
		out[i].pl.Attempt = r.Replays
	}
	return out
}

func planAttempt(r *Record, t Timing) []next {
	if r.windingUp() {
		return wrapUp(r)
	}
	if r.preflightOwed() {
		return append([]next{{typ: TypePreflight, pl: Payload{PipelineID: r.ID}}}, notifyNext(r)...)
	}
	var out []next
	if len(r.staleLive()) > 0 {
		out = append(out, cleanupNext(r))
	}
	for i, it := range r.Media {
		pl := Payload{PipelineID: r.ID, Item: i, Generation: it.Generation}
		switch it.Status {
		case ItemPending, ItemCreated:
			out = append(out, next{typ: TypeMediaUpload, pl: pl})
		case ItemUploaded:
			out = append(out, next{typ: TypeMediaConfirm, pl: pl})
		case ItemConfirmed:
			var at time.Time
			if it.ConfirmedAt != nil {
				at = it.ConfirmedAt.Add(t.AwaitFirst)
			}
			out = append(out, next{typ: TypeMediaAwait, pl: pl, at: at})
		}
	}
	pl := Payload{PipelineID: r.ID}
	switch {
	case !r.allReady():
	case !r.Staged:
		out = append(out, next{typ: TypePostAttach, pl: Payload{PipelineID: r.ID, Round: r.in.EditGen}})
	case r.PublishedAt == nil:
		out = append(out, next{typ: TypePostWatch, pl: pl, at: watchAt(r, t)})
	case r.owesCleanup() && len(r.staleLive()) == 0:
		out = append(out, cleanupNext(r))
	}
	return append(out, notifyNext(r)...)
}

// wrapUp is what a finished or cancelled pipeline still needs.
func wrapUp(r *Record) []next {
	var out []next
	if r.owesCleanup() || !r.State.Terminal() {
		out = append(out, cleanupNext(r))
	}
	return append(out, notifyNext(r)...)
}

func cleanupNext(r *Record) next {
	return next{typ: TypeMediaCleanup, pl: Payload{PipelineID: r.ID, Round: cleanupRound(r), Attempt: r.Replays}}
}

func notifyNext(r *Record) []next {
	var out []next
	for _, n := range r.owedNotices() {
		// The attempt that made the event, which an event of an earlier
		// attempt still owed keeps.
		out = append(out, next{typ: TypeNotifyWebhook, pl: Payload{PipelineID: r.ID, Event: n.Type, Redelivery: n.Redeliveries, Attempt: n.Attempt}})
	}
	return out
}

// cleanupRound grows whenever new cleanup work may have appeared: a media
// entry recorded (live or stale), the pipeline failing or being cancelled,
// the post going out. A cleanup asked for after another one's last look
// gets a task id of its own, while asking twice for the same work does
// not. It is a sum of counts that never go down (an abandoned entry moves
// from the live media to the stale ones), so it grows exactly when one of
// them does.
func cleanupRound(r *Record) int {
	n := len(r.StaleMedia)
	for _, m := range r.Media {
		if m.MediaID != "" {
			n++
		}
	}
	if r.wantsWithdrawal() {
		n++
	}
	if r.PublishedAt != nil {
		n++
	}
	return n
}

// watchAt is the first look at a staged post: just after its publishAt
// when it was scheduled, a moment after the stage change otherwise.
func watchAt(r *Record, t Timing) time.Time {
	if r.Request.Action == ActionSchedule && r.PostPublishAt != nil {
		return r.PostPublishAt.Add(t.PublishGrace)
	}
	if r.AttachedAt != nil {
		return r.AttachedAt.Add(t.WatchFirst)
	}
	return time.Time{}
}

// newWork is what a write made needed: the tasks the record after it plans
// and the record before it did not.
func newWork(before, after *Record, t Timing) []next {
	had := map[string]bool{}
	for _, n := range plan(before, t) {
		had[n.id()] = true
	}
	var out []next
	for _, n := range plan(after, t) {
		if !had[n.id()] {
			out = append(out, n)
		}
	}
	return out
}

// addNext appends n to list unless a task with its id is there already.
func addNext(list []next, ns ...next) []next {
	for _, n := range ns {
		id := n.id()
		if !slices.ContainsFunc(list, func(x next) bool { return x.id() == id }) {
			list = append(list, n)
		}
	}
	return list
}

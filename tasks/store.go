package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// ErrNotFound is returned for a pipeline id no record exists for (never
// created, or deleted after its retention).
var ErrNotFound = errors.New("pipeline not found")

// errNoChange lets an update function say "nothing to write".
var errNoChange = errors.New("no change")

// store gives records their meaning on top of rdb's bytes and versions.
//
// How a record is encoded, and in which form (in parts while a worker is
// on it, packed while nobody is), is decided in encoding.go alone; the
// keys and scripts are rdb's (rdb/doc.go).
type store struct {
	rdb *rdb.RDB
	now func() time.Time
}

func newStore(r *rdb.RDB, now func() time.Time) *store { return &store{rdb: r, now: now} }

func stateNames() []string {
	out := make([]string, len(States))
	for i, s := range States {
		out[i] = string(s)
	}
	return out
}

// meta is what the indexes hold of a record. A running record's due
// entry is placed by its create (due), or by the write that reopens a
// finished one (a replay), and moved by the sweep; every other write
// keeps it (due zero).
func meta(r *Record, due time.Time) rdb.Meta {
	m := rdb.Meta{State: string(r.State), Created: r.CreatedAt}
	if !r.State.Terminal() {
		m.Due, m.KeepDue = due, due.IsZero()
	}
	if r.owesCleanup() {
		m.Cleanup = r.cleanupSince()
	}
	if since, ok := r.notifyOwedSince(); ok {
		m.Notify = since
	}
	if r.State.Terminal() && m.Cleanup.IsZero() && m.Notify.IsZero() && r.FinishedAt != nil {
		m.Done = *r.FinishedAt
	}
	return m
}

// get reads what a step needs: the record without its history.
func (s *store) get(ctx context.Context, id string) (*Record, error) {
	return s.read(ctx, id, false)
}

// getFull reads the record with its history, for people.
func (s *store) getFull(ctx context.Context, id string) (*Record, error) {
	return s.read(ctx, id, true)
}

func (s *store) read(ctx context.Context, id string, history bool) (*Record, error) {
	var e *rdb.Entry
	var err error
	if history {
		e, err = s.rdb.GetFull(ctx, id)
	} else {
		e, err = s.rdb.Get(ctx, id)
	}
	if errors.Is(err, rdb.ErrNotFound) {
		// A record of the layout before shards moves over on first sight.
		if migrated, merr := s.migrate(ctx, id); merr != nil || migrated {
			if merr != nil {
				return nil, merr
			}
			return s.read(ctx, id, history)
		}
		return nil, fmt.Errorf("pipeline %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return decodeEntry(e)
}

// create stores rec unless a record with its id exists, which it returns
// (and whose index entries it repairs). due is when the sweep first looks
// at it.
func (s *store) create(ctx context.Context, rec *Record, due time.Time) (*Record, bool, error) {
	m := meta(rec, due)
	b, events, _, err := s.body(ctx, nil, rec, m)
	if err != nil {
		return nil, false, err
	}
	created, existing, err := s.rdb.CreateBody(ctx, rec.ID, b, m, events)
	if err != nil {
		return nil, false, err
	}
	if !created {
		// The create answers a record in parts without its history (a
		// packed one holds it): read it, or an idempotent retry would
		// answer the pipeline with no events.
		if existing.Packed == nil {
			if existing.History, err = s.rdb.History(ctx, rec.ID); err != nil {
				return nil, false, err
			}
		}
		r, err := decodeEntry(existing)
		return r, false, err
	}
	rec.version = 1
	rec.packed = b.Packed != nil
	rec.History = append(rec.History, rec.events...)
	rec.events = nil
	return rec, true, nil
}

// maxConflicts bounds how often update re-reads a record others keep
// writing; media items of one pipeline write concurrently, but not forever.
const maxConflicts = 50

// change is one write: the record just before it (the version the
// compare-and-set replaced) and just after. Side effects are decided from
// the two, after the write, so none runs twice when a conflict makes the
// update function run again.
type change struct {
	before, after *Record
}

// update applies fn to rec and writes the result if nobody wrote since rec
// was read; on a conflict it re-reads and applies fn again, so fn must be
// a pure change of the record it is given. fn may return errNoChange to
// skip the write (update then returns a nil change). rec is updated in
// place to what was written.
func (s *store) update(ctx context.Context, rec *Record, fn func(*Record) error) (*change, error) {
	cur := rec
	for range maxConflicts {
		draft := cloneRecord(cur)
		if err := fn(draft); err != nil {
			if errors.Is(err, errNoChange) {
				*rec = *cur
				return nil, nil
			}
			return nil, err
		}
		draft.UpdatedAt = s.now().UTC()
		// A finished record has no due entry; the write that reopens it
		// (a replay) places one, as the create does, or a replay whose
		// first task is lost would wait pending out of the sweep's sight.
		var due time.Time
		if cur.State.Terminal() && !draft.State.Terminal() {
			due = draft.UpdatedAt
		}
		m := meta(draft, due)
		b, events, read, err := s.body(ctx, cur, draft, m)
		if err != nil {
			return nil, err
		}
		// What makes a later run find the post rather than create another
		// must outlive a failover (rdb's durable.go): a counted attempt
		// (it searches drafts and ideas for the post), and the post's id
		// (written before the post is staged, after which no search would
		// find it).
		b.Durable = draft.in.PostAttempts > cur.in.PostAttempts || (draft.PostID != "" && cur.PostID == "")
		err = s.rdb.PutBody(ctx, cur.ID, cur.version, b, m, events)
		var fresh *Record
		// (A durable put's other errors stand: landed or not, it is not
		// known to be on a replica, which its caller must hear.)
		if errors.Is(err, rdb.ErrConflict) || err != nil && !b.Durable && !errors.Is(err, rdb.ErrNotFound) {
			// The put may have run with its answer lost (a read timeout,
			// a dropped connection), and go-redis retries a timed-out
			// command, whose second run finds the version moved: a
			// conflict with our own write. Taken for another's, the write
			// was redone on top of itself and the change reported from
			// the record it had made (before = after: a pipeline's ending
			// never counted nor its webhook handed on) or not at all (an
			// error). A record one version on that holds exactly what
			// was written is this write.
			var landed bool
			if fresh, landed, err = s.reread(ctx, cur, b, err); landed {
				err = nil
				if b.Durable {
					// Its first run's WAIT never came: the write stands,
					// not known to be on a replica.
					err = fmt.Errorf("pipeline %s: %w", cur.ID, rdb.ErrNotReplicated)
				}
			}
		}
		switch {
		case err == nil:
			draft.version = cur.version + 1
			draft.packed = b.Packed != nil
			if read != nil {
				draft.History = read
			}
			draft.History = append(draft.History, draft.events...)
			draft.events = nil
			before := cur
			if cur == rec {
				before = cloneRecord(cur)
			}
			*rec = *draft
			return &change{before: before, after: draft}, nil
		case errors.Is(err, rdb.ErrConflict):
			cur = fresh
		case errors.Is(err, rdb.ErrNotFound):
			return nil, fmt.Errorf("pipeline %s: %w", rec.ID, ErrNotFound)
		default:
			return nil, err
		}
	}
	return nil, fmt.Errorf("pipeline %s: record kept changing under %d writes", rec.ID, maxConflicts)
}

// rereadTimeout bounds reread's look, which outlives the writer's context.
const rereadTimeout = 2 * time.Second

// reread is the record after a put that failed with err (cur the record
// it was to replace, b what it wrote): landed says the put ran, the
// stored record being one version past cur and holding exactly b. A
// conflict gives the record as it now is (fresh) to apply the update to
// again; any other error is returned as it came unless the put landed.
func (s *store) reread(ctx context.Context, cur *Record, b rdb.Body, err error) (fresh *Record, landed bool, _ error) {
	conflict := errors.Is(err, rdb.ErrConflict)
	// A put cut short by its context's end (a cancel, the run's
	// deadline) may have run too: look on a context of its own.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rereadTimeout)
	defer cancel()
	e, gerr := s.rdb.Get(rctx, cur.ID)
	switch {
	case errors.Is(gerr, rdb.ErrNotFound) && conflict:
		// Gone, or moved over from the old layout meanwhile.
		fresh, gerr := s.get(ctx, cur.ID)
		if gerr != nil {
			return nil, false, gerr
		}
		return fresh, false, err
	case gerr != nil && conflict:
		return nil, false, gerr
	case gerr != nil:
		return nil, false, err
	}
	if e.Version == cur.version+1 && b.Packed != nil && bytes.Equal(e.Packed, b.Packed) ||
		e.Version == cur.version+1 && b.Packed == nil && e.Packed == nil && bytes.Equal(e.Doc, b.Doc) {
		return nil, true, nil
	}
	if !conflict {
		return nil, false, err
	}
	fresh, derr := decodeEntry(e)
	if derr != nil {
		return nil, false, derr
	}
	return fresh, false, err
}

// cloneRecord deep-copies the parts of a record that update functions
// modify, so a failed write leaves the caller's copy untouched.
func cloneRecord(r *Record) *Record {
	c := *r
	c.Media = slices.Clone(r.Media)
	c.StaleMedia = slices.Clone(r.StaleMedia)
	c.Publication = slices.Clone(r.Publication)
	c.History = slices.Clone(r.History)
	c.events = nil
	c.in.Unusable = slices.Clone(r.in.Unusable)
	c.in.ReplyLost = slices.Clone(r.in.ReplyLost)
	c.in.DupPosts = slices.Clone(r.in.DupPosts)
	c.in.PriorMedia = slices.Clone(r.in.PriorMedia)
	c.in.UploadHost = slices.Clone(r.in.UploadHost)
	if r.Error != nil {
		e := *r.Error
		c.Error = &e
	}
	if r.in.PostClaim != nil {
		cl := *r.in.PostClaim
		c.in.PostClaim = &cl
	}
	if r.Webhook != nil {
		w := *r.Webhook
		w.Events = slices.Clone(r.Webhook.Events)
		c.Webhook = &w
	}
	return &c
}

func (s *store) list(ctx context.Context, o ListOptions) ([]*Record, string, error) {
	page, err := s.rdb.ListRange(ctx, string(o.State), o.Cursor, o.Limit, o.Since, o.Until)
	if errors.Is(err, rdb.ErrBadCursor) {
		return nil, "", ErrBadCursor
	}
	if err != nil {
		return nil, "", err
	}
	entries, err := s.rdb.GetMany(ctx, page.IDs, true)
	if err != nil {
		return nil, "", err
	}
	out := make([]*Record, 0, len(entries))
	for _, e := range entries {
		r, err := decodeEntry(e)
		if err != nil {
			return nil, "", err
		}
		out = append(out, r)
	}
	return out, page.Next, nil
}

// ErrBadCursor is returned for a listing cursor this service did not make.
var ErrBadCursor = errors.New("bad cursor")

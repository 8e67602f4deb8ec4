package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mediaflow/mediaflow/tasks/internal/rdb"
)

// ErrNotFound is returned for a pipeline id no record exists for (never
// created, or deleted after its retention).
var ErrNotFound = errors.New("pipeline not found")

// errNoChange lets an update function say "nothing to write".
var errNoChange = errors.New("no change")

// store gives records their meaning on top of rdb's bytes and versions.
type store struct {
	rdb *rdb.RDB
	now func() time.Time
}

func (s *store) get(ctx context.Context, id string) (*Record, error) {
	e, err := s.rdb.Get(ctx, id)
	if errors.Is(err, rdb.ErrNotFound) {
		return nil, fmt.Errorf("pipeline %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	return decodeRecord(e)
}

func decodeRecord(e *rdb.Entry) (*Record, error) {
	var r Record
	if err := json.Unmarshal(e.Doc, &r); err != nil {
		return nil, fmt.Errorf("pipeline %s: record is not valid JSON: %w", e.ID, err)
	}
	r.version = e.Version
	return &r, nil
}

// create stores rec unless a record with its id exists, which it returns.
func (s *store) create(ctx context.Context, rec *Record) (*Record, bool, error) {
	doc, err := json.Marshal(rec)
	if err != nil {
		return nil, false, fmt.Errorf("pipeline %s: encode record: %w", rec.ID, err)
	}
	created, existing, err := s.rdb.Create(ctx, rec.ID, doc, meta(rec))
	if err != nil {
		return nil, false, err
	}
	if !created {
		r, err := decodeRecord(existing)
		return r, false, err
	}
	rec.version = 1
	return rec, true, nil
}

// maxConflicts bounds how often update re-reads a record others keep
// writing; media items of one pipeline write concurrently, but not forever.
const maxConflicts = 50

// update applies fn to rec and writes the result if nobody wrote since rec
// was read; on a conflict it re-reads and applies fn again, so fn must be
// a pure change of the record it is given. fn may return errNoChange to
// skip the write. rec is updated in place to what was written.
func (s *store) update(ctx context.Context, rec *Record, fn func(*Record) error) error {
	cur := rec
	for range maxConflicts {
		next := cloneRecord(cur)
		if err := fn(next); err != nil {
			if errors.Is(err, errNoChange) {
				*rec = *cur
				return nil
			}
			return err
		}
		// Whatever the change, "cleanup" must say whether something is
		// still owed: a write racing a failure can add media to delete.
		next.settleCleanup()
		next.UpdatedAt = s.now().UTC()
		doc, err := json.Marshal(next)
		if err != nil {
			return fmt.Errorf("pipeline %s: encode record: %w", rec.ID, err)
		}
		err = s.rdb.Put(ctx, cur.ID, cur.version, doc, meta(cur), meta(next))
		switch {
		case err == nil:
			next.version = cur.version + 1
			*rec = *next
			return nil
		case errors.Is(err, rdb.ErrConflict):
			fresh, err := s.get(ctx, cur.ID)
			if err != nil {
				return err
			}
			cur = fresh
		case errors.Is(err, rdb.ErrNotFound):
			return fmt.Errorf("pipeline %s: %w", rec.ID, ErrNotFound)
		default:
			return err
		}
	}
	return fmt.Errorf("pipeline %s: record kept changing under %d writes", rec.ID, maxConflicts)
}

// cloneRecord deep-copies the parts of a record that update functions
// modify, so a failed write leaves the caller's copy untouched.
func cloneRecord(r *Record) *Record {
	c := *r
	c.Media = append([]MediaItem(nil), r.Media...)
	c.StaleMedia = append([]StaleMedia(nil), r.StaleMedia...)
	c.History = append([]Event(nil), r.History...)
	if r.Error != nil {
		e := *r.Error
		c.Error = &e
	}
	return &c
}

// meta is what the indexes hold of a record.
func meta(r *Record) rdb.Meta {
	m := rdb.Meta{State: string(r.State), Created: r.CreatedAt}
	if !r.State.Terminal() {
		m.Due = r.DueAt
	}
	if r.owesCleanup() {
		m.Cleanup = r.cleanupSince()
	}
	return m
}

// cleanupSince is when the record started owing a cleanup; it only has to
// be stable across writes so the index entry does not move on every one.
func (r *Record) cleanupSince() time.Time {
	switch {
	case r.FinishedAt != nil:
		return *r.FinishedAt
	case r.PublishedAt != nil:
		return *r.PublishedAt
	}
	return r.CreatedAt
}

func (s *store) list(ctx context.Context, state State, cursor string, limit int) ([]*Record, string, error) {
	page, err := s.rdb.List(ctx, string(state), cursor, limit)
	if errors.Is(err, rdb.ErrBadCursor) {
		return nil, "", ErrBadCursor
	}
	if err != nil {
		return nil, "", err
	}
	entries, err := s.rdb.GetMany(ctx, page.IDs)
	if err != nil {
		return nil, "", err
	}
	out := make([]*Record, 0, len(entries))
	for _, e := range entries {
		r, err := decodeRecord(e)
		if err != nil {
			return nil, "", err
		}
		// An index entry a crash left behind: the record says otherwise.
		if state != "" && r.State != state {
			continue
		}
		out = append(out, r)
	}
	return out, page.Next, nil
}

// ErrBadCursor is returned for a listing cursor this service did not make.
var ErrBadCursor = errors.New("bad cursor")

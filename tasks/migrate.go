package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// Records written before the sharded layout (rdb/legacy.go) move over the
// first time anything reads them, and the sweep moves the rest: a rolling
// upgrade loses none, and a step that finds its record there runs as if
// nothing changed.

// legacyRecord is a record as the old layout stored it: the public JSON
// plus two fields that are internal now.
type legacyRecord struct {
	Record
	Fingerprint string `json:"fingerprint"`
}

// migrate moves id from the old layout, reporting whether there was one.
func (s *store) migrate(ctx context.Context, id string) (bool, error) {
	doc, err := s.rdb.LegacyGet(ctx, id)
	if errors.Is(err, rdb.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var old legacyRecord
	if err := json.Unmarshal(doc, &old); err != nil {
		return false, unreadableError{fmt.Errorf("migrate pipeline %s: old record is not valid JSON: %w", id, err)}
	}
	rec := &old.Record
	rec.fingerprint = old.Fingerprint
	rec.events, rec.History = rec.History, nil
	if rec.Cleanup == "" && rec.State.Terminal() {
		rec.Cleanup = cleanupState(rec)
	}
	// Due since it last moved: one that stalled long ago is looked at by
	// the next sweep.
	since := rec.UpdatedAt
	if since.IsZero() {
		since = s.now()
	}
	if _, _, err := s.create(ctx, rec, since); err != nil {
		return false, fmt.Errorf("migrate pipeline %s: %w", id, err)
	}
	if err := s.rdb.LegacyForget(ctx, id); err != nil {
		return false, fmt.Errorf("migrate pipeline %s: %w", id, err)
	}
	return true, nil
}

package tasks

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// SeedCopies writes one copy of a stored template record per time in
// created, straight through the store (pipelined, a batch per round
// trip): copy i is of templateIDs[i % len(templateIDs)] (a template named
// twice is copied twice as often), with a fresh id and every time of the
// template moved by its creation's distance from the template's. The
// copies are stored as the store stores a record in the template's state,
// with the same index entries; with enqueue, each copy's first tasks are
// enqueued too, as Publish would. It is for filling a Redis at scale
// (make bench -scale) without running a million pipelines, never for
// production data.
func (c *Client) SeedCopies(ctx context.Context, templateIDs []string, created []time.Time, enqueue bool) ([]string, error) {
	if len(templateIDs) == 0 {
		return nil, fmt.Errorf("seed %d copies: no template", len(created))
	}
	tmpls := make([]*Record, len(templateIDs))
	read := map[string]*Record{}
	for i, id := range templateIDs {
		if read[id] == nil {
			t, err := c.store.getFull(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("seed from template %s: %w", id, err)
			}
			read[id] = t
		}
		tmpls[i] = read[id]
	}
	const batch = 500
	ids := make([]string, 0, len(created))
	for start := 0; start < len(created); start += batch {
		end := min(start+batch, len(created))
		recs := make([]*Record, 0, end-start)
		for i, at := range created[start:end] {
			tmpl := tmpls[(start+i)%len(tmpls)]
			recs = append(recs, copyShifted(tmpl, at.Sub(tmpl.CreatedAt)))
		}
		if err := c.store.createMany(ctx, recs); err != nil {
			return ids, err
		}
		for _, r := range recs {
			ids = append(ids, r.ID)
		}
		if enqueue {
			if err := c.enqueueMany(ctx, recs); err != nil {
				return ids, err
			}
		}
	}
	return ids, nil
}

// enqueueMany enqueues the first tasks of recs, eight at a time.
func (c *Client) enqueueMany(ctx context.Context, recs []*Record) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < len(recs); i = int(next.Add(1)) - 1 {
				if err := c.enqueueFirst(ctx, recs[i]); err != nil {
					mu.Lock()
					first = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// copyShifted is r under a new id with every time moved by d.
func copyShifted(r *Record, d time.Duration) *Record {
	c := cloneRecord(r)
	c.ID = uuid.Must(uuid.NewV7()).String()
	c.Key = ""
	shift := func(t *time.Time) {
		if t != nil && !t.IsZero() {
			*t = t.Add(d)
		}
	}
	shiftP := func(t **time.Time) {
		if *t != nil {
			v := (*t).Add(d)
			*t = &v
		}
	}
	shift(&c.CreatedAt)
	shift(&c.UpdatedAt)
	shiftP(&c.AttachedAt)
	shiftP(&c.PublishedAt)
	shiftP(&c.FinishedAt)
	shiftP(&c.PostPublishAt)
	shift(&c.in.ProgressAt)
	shift(&c.in.KickedAt)
	for i := range c.Media {
		shiftP(&c.Media[i].MediaCreatedAt)
		shiftP(&c.Media[i].ConfirmedAt)
		shiftP(&c.Media[i].ReadyAt)
	}
	if c.Webhook != nil {
		for i := range c.Webhook.Events {
			n := &c.Webhook.Events[i]
			n.ID = noticeID(c.ID, n.Type, n.Attempt)
			shift(&n.At)
			shiftP(&n.DeliveredAt)
		}
	}
	c.events = make([]Event, len(r.History))
	for i, ev := range r.History {
		ev.At = ev.At.Add(d)
		c.events[i] = ev
	}
	c.History = nil
	return c
}

// createMany stores new records, pipelined (SeedCopies).
func (s *store) createMany(ctx context.Context, recs []*Record) error {
	out := make([]rdb.NewRecord, 0, len(recs))
	for _, rec := range recs {
		m := meta(rec, rec.CreatedAt)
		b, events, _, err := s.body(ctx, nil, rec, m)
		if err != nil {
			return err
		}
		out = append(out, rdb.NewRecord{ID: rec.ID, Body: b, Meta: m, Events: events})
	}
	if err := s.rdb.CreateMany(ctx, out); err != nil {
		return fmt.Errorf("seed %d records: %w", len(recs), err)
	}
	return nil
}

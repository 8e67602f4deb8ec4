package sandbox

import (
	"cmp"
	"slices"
	"time"
)

// settle applies every time-driven change due by now, in time order:
// queued publications happen and unconfirmed media past UnconfirmedTTL
// expire. It runs under s.mu before anything reads or changes state, so
// a change due at t is always applied before any request after t sees or
// alters the state; what it looks at (media status, deletion) is
// evaluated as of t, not as of now. The caller holds s.mu.
func (s *Server) settle(now time.Time) {
	if s.nextEvent.IsZero() || now.Before(s.nextEvent) {
		return
	}
	var due []*post
	for p := range s.queued {
		if !p.dueAt.After(now) {
			due = append(due, p)
		}
	}
	slices.SortFunc(due, func(a, b *post) int {
		if c := a.dueAt.Compare(b.dueAt); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	for _, p := range due {
		s.publish(p, p.dueAt)
	}
	for m := range s.unconfirmed {
		if m.goneAt(now, s.opts.UnconfirmedTTL) {
			m.expired = true
			delete(s.unconfirmed, m)
			s.counts.mediaExpired++
		}
	}
	s.nextEvent = time.Time{}
	for p := range s.queued {
		s.wakeAt(p.dueAt)
	}
	for m := range s.unconfirmed {
		s.wakeAt(m.createdAt.Add(s.opts.UnconfirmedTTL))
	}
}

// wakeAt makes settle look again at t. The caller holds s.mu.
func (s *Server) wakeAt(t time.Time) {
	if s.nextEvent.IsZero() || t.Before(s.nextEvent) {
		s.nextEvent = t
	}
}

package authlimit

import (
	"sync"
	"time"
)

// suspectFor is how long a client stays a suspect after this process saw
// it fail: the time a client at the limit takes to earn its full
// allowance back, whatever the limit (GCRA refills PerMinute failures in a
// minute).
const suspectFor = time.Minute

// maxSuspects bounds the clients remembered; past it (a flood from very
// many addresses) every client is a suspect until some expire.
const maxSuspects = 1 << 16

// suspects are the clients this process saw fail to authenticate lately.
// Only their good credentials are checked against Redis: a client that
// never failed here is let through without a question, so authenticated
// traffic costs Redis nothing. Failures themselves are always counted in
// Redis, fleet-wide. The price is small: a client held back by its
// failures on other workers gets one right guess checked by a worker
// that has not seen it fail for a minute, so spreading guesses over N
// workers adds at most N verified guesses a minute to the limit.
type suspects struct {
	mu    sync.Mutex
	until map[string]time.Time
	full  bool
}

func newSuspects() *suspects { return &suspects{until: map[string]time.Time{}} }

// mark makes client a suspect until suspectFor after now.
func (s *suspects) mark(client string, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.until[client]; !ok && len(s.until) >= maxSuspects {
		s.prune(now)
		if len(s.until) >= maxSuspects {
			s.full = true
			return
		}
	}
	s.until[client] = now.Add(suspectFor)
}

// has reports whether client is a suspect at now.
func (s *suspects) has(client string, now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.full {
		s.prune(now)
		if s.full = len(s.until) >= maxSuspects; s.full {
			return true
		}
	}
	return now.Before(s.until[client])
}

func (s *suspects) prune(now time.Time) {
	for c, u := range s.until {
		if !now.Before(u) {
			delete(s.until, c)
		}
	}
}

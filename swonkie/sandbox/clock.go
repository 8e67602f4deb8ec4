package sandbox

import (
	"sync"
	"time"
)

// Clock tells the sandbox what time it is. Every time-driven change
// (processing, publishing, upload-URL and unconfirmed-media expiry) is
// computed from it when a request or an introspection call looks, so
// moving the clock is enough to make them happen.
type Clock interface{ Now() time.Time }

// Advancer is a Clock that can be moved forward, as POST
// /_sandbox/clock/advance and Server.Advance need.
type Advancer interface {
	Clock
	Advance(d time.Duration)
}

// OffsetClock is real time plus an offset that only grows. Real time keeps
// passing, so short processing and publish delays happen on their own,
// while a test can jump over long ones (16 minutes to expire an upload URL,
// a day to expire unconfirmed media) without waiting. The zero value is
// real time.
type OffsetClock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns real time plus the offset.
func (c *OffsetClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d; a negative d is ignored because
// nothing in the sandbox can run backwards.
func (c *OffsetClock) Advance(d time.Duration) {
	if d <= 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Offset returns how far the clock has been moved.
func (c *OffsetClock) Offset() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.offset
}

package source

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrSpoolFull is in the chain of an error from a source that could not be
// spooled because SPOOL_MAX_BYTES was in use by other sources. It is
// transient: the room comes back when they finish.
var ErrSpoolFull = errors.New("spool full")

// spoolBudget is the bytes all spool files of one Opener may hold at once.
// A cap per source alone would let media × concurrency sources fill the
// disk (or, with /tmp on tmpfs, the memory) together.
type spoolBudget struct {
	mu    sync.Mutex
	max   int64
	used  int64
	freed chan struct{} // closed, and replaced, whenever bytes are released
}

func newSpoolBudget(max int64) *spoolBudget {
	return &spoolBudget{max: max, freed: make(chan struct{})}
}

// acquire takes n bytes, waiting at most wait in all for others to release
// them. Waiting, rather than failing at once, lets a short burst of
// sources take turns; the bound keeps sources that each hold part of the
// budget from waiting on one another for ever.
func (b *spoolBudget) acquire(ctx context.Context, n int64, wait time.Duration) error {
	var timer <-chan time.Time
	for {
		b.mu.Lock()
		if b.used+n <= b.max {
			b.used += n
			b.mu.Unlock()
			return nil
		}
		freed := b.freed
		b.mu.Unlock()
		if timer == nil {
			t := time.NewTimer(wait)
			defer t.Stop()
			timer = t.C
		}
		select {
		case <-freed:
		case <-timer:
			return fmt.Errorf("%w: the %d bytes SPOOL_MAX_BYTES allows are held by other sources without a length; waited %s for room",
				ErrSpoolFull, b.max, wait)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *spoolBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.freed)
	b.freed = make(chan struct{})
	b.mu.Unlock()
}

// inUse is the bytes held now; for tests and diagnostics.
func (b *spoolBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

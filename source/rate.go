package source

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrTooSlow is in the chain of an error from a source cut for sending
// less than SOURCE_MIN_RATE. It is transient: the link may be better next
// time.
var ErrTooSlow = errors.New("source too slow")

// clock is time for the rate guard, so tests can move it.
type clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) interface{ Stop() bool }
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	return time.AfterFunc(d, f)
}

// rateGuard cuts a body that delivers less than min bytes a second, judged
// over each window of time spent waiting in Read. Only time inside Read
// counts: a slow consumer (a slow upload) leaves the data waiting in the
// socket, which is not the source's fault. A Read that blocks to the end of
// a window is judged when the window ends, not when it returns: a source
// that stops sending altogether would otherwise never be judged.
type rateGuard struct {
	r      io.Reader
	clock  clock
	min    int64 // bytes per second
	window time.Duration
	cut    func() // aborts the blocked Read (cancels the request)

	mu        sync.Mutex
	busy      time.Duration // time in Read within this window, finished Reads only
	got       int64         // bytes within this window
	readStart time.Time     // start of the Read in progress, or of its share of this window
	gen       uint64        // identifies the timer armed for the Read in progress
	timer     interface{ Stop() bool }
	err       error // set once cut
}

func (g *rateGuard) need() int64 { return int64(float64(g.min) * g.window.Seconds()) }

func (g *rateGuard) Read(p []byte) (int, error) {
	g.mu.Lock()
	if g.err != nil {
		defer g.mu.Unlock()
		return 0, g.err
	}
	g.readStart = g.clock.Now()
	g.gen++
	gen := g.gen
	g.timer = g.clock.AfterFunc(g.window-g.busy, func() { g.windowEnded(gen) })
	g.mu.Unlock()

	n, err := g.r.Read(p)

	g.mu.Lock()
	defer g.mu.Unlock()
	g.timer.Stop()
	g.gen++ // a timer that fired meanwhile is stale
	if g.err != nil {
		return n, g.err
	}
	g.busy += g.clock.Now().Sub(g.readStart)
	g.got += int64(n)
	if g.busy >= g.window {
		g.judgeLocked()
		if g.err != nil {
			return n, g.err
		}
	}
	return n, err
}

// windowEnded runs when a Read has blocked to the end of the window.
func (g *rateGuard) windowEnded(gen uint64) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if gen != g.gen || g.err != nil {
		return
	}
	g.judgeLocked()
	if g.err == nil {
		// Fast enough so far: the blocked Read starts the next window.
		g.readStart = g.clock.Now()
		g.gen++
		gen := g.gen
		g.timer = g.clock.AfterFunc(g.window, func() { g.windowEnded(gen) })
	}
}

func (g *rateGuard) judgeLocked() {
	if g.got < g.need() {
		g.err = fmt.Errorf("%w: %d bytes in %s (%s/s), below SOURCE_MIN_RATE of %s/s; the source was cut",
			ErrTooSlow, g.got, g.window, byteSize(float64(g.got)/g.window.Seconds()), byteSize(float64(g.min)))
		g.cut()
		return
	}
	g.busy, g.got = 0, 0
}

func byteSize(n float64) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", n/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", n/(1<<10))
	}
	return fmt.Sprintf("%.2f B", n)
}

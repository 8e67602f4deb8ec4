package source

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is moved by the test; timers fire inside Advance.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	arms   int
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) interface{ Stop() bool } {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	c.arms++
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	for _, t := range c.timers {
		if !t.stopped && !t.fired && !t.at.After(c.now) {
			t.fired = true
			due = append(due, t.f)
		}
	}
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// armedSince reports whether a timer armed after the arms-th is pending:
// a Read has started and is waiting for the source.
func (c *fakeClock) armedSince(arms int) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.arms <= arms {
		return c.arms, false
	}
	last := c.timers[len(c.timers)-1]
	return c.arms, !last.stopped && !last.fired
}

// TestSlowSourceIsCut: a source sending 1 byte a second is cut once 30 s
// (of fake time) have gone by below SOURCE_MIN_RATE, with an error naming
// the source and the rate, and its connection is closed: the slot it held
// is free. Both paths are covered: a body without a length (spooled inside
// Open) and one with a length (streamed by Media.Read).
func TestSlowSourceIsCut(t *testing.T) {
	t.Parallel()
	for _, withLength := range []bool{false, true} {
		t.Run("length="+strconv.FormatBool(withLength), func(t *testing.T) {
			t.Parallel()
			// A whole sniff's worth, so that with a length Open returns
			// and the drip is read by Media.Read.
			head := append(pngFile(t), make([]byte, sniffLen)...)[:sniffLen]
			drip := make(chan struct{})
			gone := make(chan struct{})
			srv := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				defer close(gone)
				if withLength {
					w.Header().Set("Content-Length", strconv.Itoa(len(head)+1<<20))
				}
				w.WriteHeader(http.StatusOK)
				if withLength {
					w.Write(head) // the head arrives at once; the rest drips
				}
				w.(http.Flusher).Flush()
				for {
					select {
					case <-drip:
						w.Write([]byte{0})
						w.(http.Flusher).Flush()
					case <-r.Context().Done():
						return
					}
				}
			})
			_, port := serve(t, srv)
			clk := &fakeClock{now: time.Unix(1e9, 0)}
			dir := t.TempDir()
			o := mustNew(t, Config{AllowedHosts: []string{"127.0.0.1"}, SpoolDir: dir})
			o.clock = clk
			src := "http://127.0.0.1:" + port + "/slow/video.mp4?sig=s3cret"

			done := make(chan error, 1)
			go func() {
				m, err := o.Open(context.Background(), src, Hint{})
				if err == nil {
					_, err = io.Copy(io.Discard, m)
					m.Close()
				}
				done <- err
			}()

			var err error
			arms, ticks := 0, 0
		drive:
			for {
				select {
				case err = <-done:
					break drive
				default:
				}
				n, pending := clk.armedSince(arms)
				if !pending {
					time.Sleep(100 * time.Microsecond) // wait for the reader, not for time
					continue
				}
				arms = n
				clk.Advance(time.Second)
				ticks++
				select {
				case drip <- struct{}{}:
				case err = <-done:
					break drive
				}
				if ticks > 100 {
					t.Fatal("still reading after 100 s of fake time")
				}
			}

			if !errors.Is(err, ErrTooSlow) || IsPermanent(err) {
				t.Fatalf("err = %v; want the transient too-slow error", err)
			}
			if ticks < 30 || ticks > 31 {
				t.Errorf("cut after %d s; the window is 30 s", ticks)
			}
			msg := err.Error()
			for _, want := range []string{"127.0.0.1:" + port + "/slow/video.mp4", "SOURCE_MIN_RATE", "64.0 KiB/s", "B/s"} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
			if strings.Contains(msg, "s3cret") {
				t.Errorf("error %q shows the signature", msg)
			}
			t.Logf("%v", err)
			select {
			case <-gone:
			case <-time.After(5 * time.Second):
				t.Fatal("the source's connection is still open after the cut")
			}
			if used := o.budget.inUse(); used != 0 {
				t.Errorf("%d spool bytes still held after the cut", used)
			}
		})
	}
}

// TestSlowConsumerIsNotBlamed: a source at twice the minimum rate whose reader
// stops for a minute after every read (a slow upload) is read to the end:
// only time spent waiting for the source counts.
func TestSlowConsumerIsNotBlamed(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{now: time.Unix(1e9, 0)}
	pr, pw := io.Pipe()
	g := &rateGuard{r: pr, clock: clk, min: 50, window: 10 * time.Second, cut: func() { pr.CloseWithError(errors.New("cut")) }}
	go func() {
		arms := 0
		for range 20 {
			for {
				n, pending := clk.armedSince(arms)
				if pending {
					arms = n
					break
				}
				time.Sleep(100 * time.Microsecond)
			}
			clk.Advance(time.Second) // the source takes 1 s per 100 bytes
			pw.Write(make([]byte, 100))
		}
		pw.Close()
	}()
	buf := make([]byte, 4096)
	total := 0
	for {
		n, err := g.Read(buf)
		total += n
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", total, err)
		}
		clk.Advance(time.Minute) // the consumer's time, not the source's
	}
	if total != 2000 {
		t.Fatalf("read %d bytes, want 2000", total)
	}
}

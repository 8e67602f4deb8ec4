package tasks

import (
	"context"
	"sync"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// cancelListener interrupts the steps running in this worker for a
// pipeline that was cancelled: Client.Cancel publishes the id, every
// worker hears it, and the runs it registered for that pipeline have their
// context cancelled (with errCancelled as the cause), so a slow upload
// does not hold a slot for a publication nobody wants.
type cancelListener struct {
	rdb *rdb.RDB
	log zerolog.Logger

	mu      sync.Mutex
	running map[string]map[*context.CancelCauseFunc]struct{}

	once   sync.Once
	stopFn context.CancelFunc
	done   chan struct{}
}

func newCancelListener(r *rdb.RDB, log zerolog.Logger) *cancelListener {
	return &cancelListener{rdb: r, log: log, running: map[string]map[*context.CancelCauseFunc]struct{}{}}
}

// watch returns a context that ends when pipeline id is cancelled, and
// the function that stops watching (call it when the run ends).
func (c *cancelListener) watch(ctx context.Context, id string) (context.Context, func()) {
	if c == nil {
		return ctx, func() {}
	}
	wctx, cancel := context.WithCancelCause(ctx)
	key := &cancel
	c.mu.Lock()
	if c.running[id] == nil {
		c.running[id] = map[*context.CancelCauseFunc]struct{}{}
	}
	c.running[id][key] = struct{}{}
	c.mu.Unlock()
	return wctx, func() {
		c.mu.Lock()
		delete(c.running[id], key)
		if len(c.running[id]) == 0 {
			delete(c.running, id)
		}
		c.mu.Unlock()
		cancel(nil)
	}
}

// cancel interrupts every run of pipeline id in this worker.
func (c *cancelListener) cancel(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for f := range c.running[id] {
		(*f)(errCancelled)
	}
	return len(c.running[id])
}

// start listens until shutdown (go-redis resubscribes after a lost
// connection by itself).
func (c *cancelListener) start() {
	ctx, stop := context.WithCancel(context.Background())
	c.stopFn = stop
	c.done = make(chan struct{})
	sub := c.rdb.SubscribeCancels(ctx)
	go func() {
		defer close(c.done)
		defer sub.Close()
		ch := sub.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case msg, ok := <-ch:
				if !ok {
					return
				}
				if n := c.cancel(msg.Payload); n > 0 {
					c.log.Info().Str("pipeline_id", msg.Payload).Int("runs", n).Msg("interrupted the running steps of a cancelled pipeline")
				}
			}
		}
	}()
}

// shutdown stops listening; a second call does nothing.
func (c *cancelListener) shutdown() {
	c.once.Do(func() {
		if c.stopFn != nil {
			c.stopFn()
			<-c.done
		}
	})
}

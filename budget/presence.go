package budget

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// Timing of presence.
const (
	// presenceEvery is how often a process says it shares the budget.
	presenceEvery = 2 * time.Second
	// presenceForget: a process not heard of for this long is not counted
	// (one that stopped cleanly says so at once).
	presenceForget = 10 * time.Second
)

// presence keeps this process in the workspace's list of processes that
// share the budget, and remembers how many it last saw there: while Redis
// cannot be asked, that is what its share of the budget is worked out
// from. It beats whether or not calls are made, so that a process idle
// before an outage still knows its peers.
type presence struct {
	store *rdb.Budget
	id    string
	seen  atomic.Int64

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

func newPresence(store *rdb.Budget) *presence {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return &presence{store: store, id: hex.EncodeToString(b)}
}

// count is how many processes shared the budget at the last beat that
// reached Redis, this one included; 1 before any.
func (p *presence) count() int { return max(1, int(p.seen.Load())) }

// start beats at once and then every presenceEvery, until shutdown.
func (p *presence) start() {
	ctx, cancel := context.WithCancel(context.Background())
	p.mu.Lock()
	p.cancel, p.done = cancel, make(chan struct{})
	p.mu.Unlock()
	go p.loop(ctx, p.done)
}

func (p *presence) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	tick := time.NewTicker(presenceEvery)
	defer tick.Stop()
	for {
		bctx, cancel := context.WithTimeout(ctx, askTimeout)
		if n, err := p.store.Present(bctx, p.id, presenceForget); err == nil {
			p.seen.Store(int64(n))
		}
		cancel()
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// shutdown stops the beats and takes this process off the list.
func (p *presence) shutdown() {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	ctx, stop := context.WithTimeout(context.Background(), askTimeout)
	defer stop()
	_ = p.store.Leave(ctx, p.id)
}

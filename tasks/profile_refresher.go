package tasks

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// profileRefresher keeps the workspace's profile directory fresh in
// Redis: it fetches GET /profiles when the worker starts and every
// interval after, so that enqueuers (the HTTP API, the Go client, the
// CLI), which have only Redis, can refuse a request naming a profile
// that is unknown or whose connection broke. Every worker of a fleet
// runs one; their writes are the same answer, so which lands last does
// not matter (at a 5-minute interval, a fleet of 20 costs Swonkie four
// calls a minute).
type profileRefresher struct {
	c        preflightChecker
	interval time.Duration
	log      zerolog.Logger

	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

func newProfileRefresher(c preflightChecker, interval time.Duration, log zerolog.Logger) *profileRefresher {
	return &profileRefresher{c: c, interval: interval, log: log, stop: make(chan struct{})}
}

func (p *profileRefresher) start() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			p.refresh()
			select {
			case <-p.stop:
				return
			case <-t.C:
			}
		}
	}()
}

// refresh fetches the directory once; a failure is logged, and the
// cached directory stands until it expires (ProfileTTL).
func (p *profileRefresher) refresh() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	d, err := refreshDirectory(ctx, p.c.rdb, p.c.api, p.c.workspace, p.c.now())
	if err != nil {
		p.log.Warn().Err(err).Msg("could not refresh the profile directory; the cached one stands until it expires")
		return
	}
	p.log.Debug().Int("profiles", len(d.Profiles)).Msg("profile directory refreshed")
}

func (p *profileRefresher) shutdown() {
	p.stopOnce.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// RefreshProfiles fetches the workspace's profile directory from
// Swonkie now and caches it in Redis (the refresher does every
// WorkerConfig.ProfileRefresh); it returns what it cached.
func (w *Worker) RefreshProfiles(ctx context.Context) (*ProfileDirectory, error) {
	return refreshDirectory(ctx, w.p.checker.rdb, w.p.checker.api, w.p.checker.workspace, w.p.now())
}

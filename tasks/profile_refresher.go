package tasks

import (
	"context"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// profileRefresher keeps the profile directory of every workspace the
// worker serves fresh in Redis: it fetches each one's GET /profiles,
// through that workspace's client, when the worker starts and every
// interval after, so that enqueuers (the HTTP API, the Go client, the
// CLI), which have only Redis, can refuse a request naming a profile
// that is unknown or whose connection broke. Every worker of a fleet
// runs one; their writes are the same answer, so which lands last does
// not matter (at a 5-minute interval, a fleet of 20 costs Swonkie four
// calls a minute).
type profileRefresher struct {
	c preflightChecker
	// apis are the served workspaces' clients, as the last reload left
	// them (a workspace added is refreshed from the next round on).
	apis     *workspaceAPIs
	interval time.Duration
	log      zerolog.Logger

	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

func newProfileRefresher(c preflightChecker, apis *workspaceAPIs, interval time.Duration, log zerolog.Logger) *profileRefresher {
	return &profileRefresher{c: c, apis: apis, interval: interval, log: log, stop: make(chan struct{})}
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

// refresh fetches every served workspace's directory once; a failure is
// logged, and that workspace's cached directory stands until it expires
// (ProfileTTL).
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
	for _, ws := range p.apis.names() {
		api, ok := p.apis.get(ws)
		if !ok {
			continue
		}
		d, err := refreshDirectory(ctx, p.c.rdb, api, ws, p.c.now())
		if err != nil {
			p.log.Warn().Err(err).Str("workspace", ws).Msg("could not refresh the profile directory; the cached one stands until it expires")
			continue
		}
		p.log.Debug().Str("workspace", ws).Int("profiles", len(d.Profiles)).Msg("profile directory refreshed")
	}
}

func (p *profileRefresher) shutdown() {
	p.stopOnce.Do(func() { close(p.stop) })
	p.wg.Wait()
}

// RefreshProfiles fetches the profile directory of every workspace the
// worker serves from Swonkie now and caches it in Redis (the refresher
// does every WorkerConfig.ProfileRefresh); it returns what it cached for
// WorkerConfig.Workspace. The first failure is returned, after the
// others were tried.
func (w *Worker) RefreshProfiles(ctx context.Context) (*ProfileDirectory, error) {
	var first error
	var out *ProfileDirectory
	for _, ws := range w.p.apis.names() {
		api, ok := w.p.apis.get(ws)
		if !ok {
			continue
		}
		d, err := refreshDirectory(ctx, w.p.checker.rdb, api, ws, w.p.now())
		if err != nil && first == nil {
			first = err
		}
		if ws == w.cfg.Workspace {
			out = d
		}
	}
	return out, first
}

package metrics

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const (
	// DefaultPollInterval is how often a Poller refreshes when asked for an
	// interval <= 0: as often as Prometheus scrapes by default, so a scrape
	// never serves values much older than one interval.
	DefaultPollInterval = 15 * time.Second
	// maxPollTimeout bounds one refresh, so a Redis that hangs cannot hold a
	// poller for longer than this.
	maxPollTimeout = 10 * time.Second
)

// Poller refreshes a cached snapshot in the background, one refresh at a
// time, so that serving /metrics never waits on Redis. WatchQueues and
// WatchPipelines return one; the caller owns its lifecycle: Start once
// the worker is wired, Shutdown when it stops.
//
// A failed refresh keeps the previous snapshot (its age shows in the
// *_last_success_timestamp_seconds gauge) and counts in *_errors_total.
type Poller struct {
	every   time.Duration
	timeout time.Duration
	refresh func(context.Context) error
	errs    prometheus.Counter
	lastOK  prometheus.Gauge

	mu      sync.Mutex
	started bool
	stopped bool
	cancel  context.CancelFunc
	done    chan struct{}
	lastErr error
}

// pollerMetrics are a poller's own health series, one pair per source.
type pollerMetrics struct {
	errs   prometheus.Counter
	lastOK prometheus.Gauge
}

func newPollerMetrics(reg prometheus.Registerer, subsystem, what string) pollerMetrics {
	p := pollerMetrics{
		errs: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace,
			Subsystem: subsystem,
			Name:      "errors_total",
			Help:      "Background refreshes of " + what + " that failed or timed out; the gauges keep their last values.",
		}),
		lastOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace,
			Subsystem: subsystem,
			Name:      "last_success_timestamp_seconds",
			Help:      "Unix time of the last successful background refresh of " + what + "; 0 if none yet.",
		}),
	}
	reg.MustRegister(p.errs, p.lastOK)
	return p
}

func newPoller(every time.Duration, pm pollerMetrics, refresh func(context.Context) error) *Poller {
	if every <= 0 {
		every = DefaultPollInterval
	}
	return &Poller{
		every:   every,
		timeout: min(every, maxPollTimeout),
		refresh: refresh,
		errs:    pm.errs,
		lastOK:  pm.lastOK,
	}
}

// Start refreshes once at once and then every interval, in a goroutine of
// its own. Calling it again, or after Shutdown, does nothing.
func (p *Poller) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.started || p.stopped {
		return
	}
	p.started = true
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	p.done = make(chan struct{})
	go p.loop(ctx)
}

// Shutdown stops the loop, cancelling a refresh in flight, and returns once
// the loop has ended. It is safe to call more than once and without Start.
func (p *Poller) Shutdown() {
	p.mu.Lock()
	p.stopped = true
	cancel, done := p.cancel, p.done
	p.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// LastError is the error of the latest refresh, nil after a success. The
// metrics package does not log; the worker can.
func (p *Poller) LastError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.lastErr
}

func (p *Poller) loop(ctx context.Context) {
	defer close(p.done)
	tick := time.NewTicker(p.every)
	defer tick.Stop()
	for {
		p.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (p *Poller) poll(parent context.Context) {
	ctx, cancel := context.WithTimeout(parent, p.timeout)
	defer cancel()
	err := p.refresh(ctx)
	if err != nil && parent.Err() != nil {
		// Cut short by Shutdown: not a failure of the source.
		return
	}
	if err == nil {
		p.lastOK.SetToCurrentTime()
	} else {
		p.errs.Inc()
	}
	p.mu.Lock()
	p.lastErr = err
	p.mu.Unlock()
}

// errRefreshBusy means the previous refresh is still running (its source
// ignores contexts); starting another would only pile load on a slow Redis.
var errRefreshBusy = errors.New("metrics: previous refresh still running")

package tasks

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"github.com/robfig/cron/v3"
	"github.com/rs/zerolog"
)

// DefaultSweepSchedule runs the sweep every ten minutes.
const DefaultSweepSchedule = "@every 10m"

// schedule says when the next sweep slot starts. Every worker must compute
// the same slots, so "@every" intervals are aligned to the Unix epoch
// rather than to the moment a worker started.
type schedule interface {
	Next(after time.Time) time.Time
}

type everySchedule time.Duration

func (e everySchedule) Next(after time.Time) time.Time {
	d := time.Duration(e)
	return after.Truncate(d).Add(d)
}

// ParseSweepSchedule reads "@every <duration>" or a five-field cron
// expression ("*/10 * * * *").
func ParseSweepSchedule(spec string) (schedule, error) {
	spec = strings.TrimSpace(spec)
	if rest, ok := strings.CutPrefix(spec, "@every "); ok {
		d, err := time.ParseDuration(strings.TrimSpace(rest))
		if err != nil || d < time.Second {
			return nil, fmt.Errorf("sweep schedule %q: @every needs a duration of at least 1s", spec)
		}
		return everySchedule(d), nil
	}
	s, err := cron.ParseStandard(spec)
	if err != nil {
		return nil, fmt.Errorf("sweep schedule %q: %w", spec, err)
	}
	return s, nil
}

// sweepScheduler enqueues one cleanup:sweep per slot. Several workers run
// one each; they enqueue the same task id for a slot, and the task is
// retained after it ran so a late replica still conflicts. The sweep's own
// claim in Redis settles any duplicate that slips through.
type sweepScheduler struct {
	enq       *asynq.Client
	timing    Timing
	sched     schedule
	retention time.Duration
	log       zerolog.Logger

	stop     chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
}

func newSweepScheduler(enq *asynq.Client, t Timing, sched schedule, log zerolog.Logger) *sweepScheduler {
	first := sched.Next(time.Now())
	interval := sched.Next(first).Sub(first)
	return &sweepScheduler{
		enq: enq, timing: t, sched: sched, log: log,
		retention: max(2*interval, time.Minute),
		stop:      make(chan struct{}),
	}
}

func (s *sweepScheduler) start() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			slot := s.sched.Next(time.Now())
			timer := time.NewTimer(time.Until(slot))
			select {
			case <-s.stop:
				timer.Stop()
				return
			case <-timer.C:
				s.enqueue(slot)
			}
		}
	}()
}

func (s *sweepScheduler) enqueue(slot time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := enqueueNext(ctx, s.enq, s.timing, time.Now(), next{typ: TypeCleanupSweep, pl: Payload{Slot: sweepSlot(slot)}},
		asynq.Retention(s.retention))
	if err != nil {
		s.log.Error().Err(err).Time("slot", slot).Msg("could not enqueue the sweep")
	}
}

// shutdown stops the loop; a second call does nothing.
func (s *sweepScheduler) shutdown() {
	s.stopOnce.Do(func() { close(s.stop) })
	s.wg.Wait()
}

// sweepSlot names a slot by its start, in Unix seconds.
func sweepSlot(t time.Time) string { return strconv.FormatInt(t.UTC().Unix(), 10) }

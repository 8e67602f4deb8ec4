package tasks

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync/atomic"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Fairness across workspaces (docs/design.md, "Fair across workspaces").
// A worker slot is held only by a task that can use it: a run whose
// workspace has no call budget left for a while, or whose workspace has
// its maxActive pipelines active already, gives its slot back and is
// handed out again at its turn, a wait that is no failure and spends no
// retry (verdict.go judge). The slots then go to whichever workspaces can
// use them, so one workspace's backlog never stands in front of another's
// work for longer than a run that had budget takes.

// budgetHold is the longest a run holds its slot waiting for its
// workspace's call budget for one call: twice the fleet budget's lease
// horizon, so a budget that paces calls holds the run, and one that is
// spent for now defers it (swonkie.HoldAtMost).
const budgetHold = 500 * time.Millisecond

// activeEarliest is the soonest a run refused a place among its
// workspace's active pipelines comes back; the turns after it are a
// second divided by maxActive apart, about the pace at which places free
// when a run holds one for a second.
const activeEarliest = 500 * time.Millisecond

// activeLeaseSlack is how long past its step's timeout a run's place is
// held, should its worker die without giving it back.
const activeLeaseSlack = 30 * time.Second

// maxActive is each workspace's maxActive (0 or absent: no bound),
// replaced whole on a reload.
type maxActive struct {
	m atomic.Pointer[map[string]int]
}

func (a *maxActive) set(limits map[string]int) {
	m := maps.Clone(limits)
	a.m.Store(&m)
}

func (a *maxActive) of(ws string) int {
	if m := a.m.Load(); m != nil {
		return (*m)[ws]
	}
	return 0
}

// SetMaxActive replaces each workspace's maxActive (by name; 0 or absent
// bounds nothing), as the workspaces file says. Runs already admitted
// keep their places.
func (w *Worker) SetMaxActive(limits map[string]int) { w.p.maxActive.set(limits) }

// notAdmitted is a run refused a place among its workspace's active
// pipelines: it gives its slot back until its turn.
type notAdmitted struct {
	workspace string
	max       int
	in        time.Duration
}

func (e *notAdmitted) Error() string {
	return fmt.Sprintf("workspace %q has its %d active pipelines (maxActive); this one waits its turn, in %v", e.workspace, e.max, e.in.Round(time.Millisecond))
}

// isDeferred reports a run that gave its slot back for its workspace's
// sake: no budget left for now, or no active place.
func isDeferred(err error) bool {
	_, ok := deferredFor(err)
	return ok
}

// deferredFor is how long a deferred run waits for its turn.
func deferredFor(err error) (time.Duration, bool) {
	var na *notAdmitted
	if errors.As(err, &na) {
		return na.in, true
	}
	return swonkie.Deferred(err)
}

// admit takes r's place among the active pipelines of its workspace ws,
// when it has a maxActive; release gives it back. A run inline in
// another holds that one's place.
func (p *pipeline) admit(ctx context.Context, r *run, ws string) (release func(), err error) {
	limit := p.maxActive.of(ws)
	if limit <= 0 || r.depth > 0 || r.row.step == StepNotify {
		return func() {}, nil
	}
	active := rdb.NewActive(p.store.rdb.Client(), ws)
	lease := r.row.timeout(p.timing) + activeLeaseSlack
	ok, err := active.Admit(ctx, r.rec.ID, r.id, limit, lease)
	if err != nil {
		return nil, &stepError{v: verdict{kind: retryLater}, err: fmt.Errorf("%s: %w", r.row.step, err)}
	}
	if !ok {
		in, err := active.Turns().Next(ctx, time.Second/time.Duration(limit), activeEarliest)
		if err != nil {
			in = activeEarliest
		}
		return nil, &notAdmitted{workspace: ws, max: limit, in: in}
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := active.Release(ctx, r.rec.ID, r.id); err != nil {
			r.log.Warn().Err(err).Msg("could not give back the pipeline's active place; its lease frees it")
		}
	}, nil
}

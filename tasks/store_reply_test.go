package tasks

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// lostPutReply makes the next record put (the put script, by its
// expected-version argument) run on Redis and then answer as a lost reply
// does: with an i/o timeout, or, when rerun, with the answer of a second
// run, as go-redis gives it after retrying a command that timed out, or
// with the writer's context ended meanwhile.
type lostPutReply struct {
	armed atomic.Bool
	rerun bool
	// cancel, when set, ends the writer's context as the put runs (a
	// cancel, the run's deadline), which the put answers with.
	cancel context.CancelFunc
}

func (h *lostPutReply) DialHook(next redis.DialHook) redis.DialHook { return next }
func (h *lostPutReply) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *lostPutReply) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err != nil || !isPut(cmd) || !h.armed.CompareAndSwap(true, false) {
			return err
		}
		if h.rerun {
			return next(ctx, cmd)
		}
		if h.cancel != nil {
			h.cancel()
			return context.Canceled
		}
		return &net.OpError{Op: "read", Net: "tcp", Err: errTimeout{}}
	}
}

type errTimeout struct{}

func (errTimeout) Error() string   { return "i/o timeout" }
func (errTimeout) Timeout() bool   { return true }
func (errTimeout) Temporary() bool { return true }

// isPut tells the put script's call: EVAL(SHA) with, after its keys, the
// id, a numeric expected version and a form (create has the form there).
func isPut(cmd redis.Cmder) bool {
	args := cmd.Args()
	name, _ := args[0].(string)
	if name = strings.ToLower(name); name != "evalsha" && name != "eval" || len(args) < 3 {
		return false
	}
	n, ok := args[2].(int)
	if !ok || len(args) < 3+n+3 {
		return false
	}
	v, _ := args[3+n+1].(string)
	form, _ := args[3+n+2].(string)
	return v != "" && strings.Trim(v, "0123456789") == "" && (form == "d" || form == "e" || form == "p")
}

// A write whose put ran but whose answer was lost (a read timeout; or
// the command retried by go-redis, the second run finding the version
// moved; or its context ended meanwhile) is this write's: update reports the change once, from the
// record before it. It used to return the timeout (the run failed and its
// retry found the change made: a pipeline's ending never counted, its
// webhook not handed on), or take the retry's conflict for another
// writer's and redo the write on top of itself, reporting a change from
// the record it had made.
func TestAWriteWhoseReplyWasLostIsSeenAsItsOwn(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) { c.noWorker = true })
	for _, mode := range []string{"timeout", "rerun", "cancelled"} {
		hook := &lostPutReply{rerun: mode == "rerun"}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if mode == "cancelled" {
			hook.cancel = cancel
		}
		rc := redis.NewClient(&redis.Options{Addr: b.redis.Addr, DB: b.redis.DB, MaxRetries: -1})
		t.Cleanup(func() { _ = rc.Close() })
		rc.AddHook(hook)
		s := newStore(rdb.New(rc, stateNames()), time.Now)
		rec, err := s.get(ctx, b.publish(b.request(ActionPublishNow, "a.png")).ID)
		if err != nil {
			t.Fatal(err)
		}
		v := rec.version
		kicked := time.Now().UTC()
		hook.armed.Store(true)
		ch, err := s.update(ctx, rec, func(r *Record) error {
			r.in.KickedAt = kicked
			return nil
		})
		if hook.armed.Load() {
			t.Fatal("the hook never saw the put")
		}
		if err != nil || ch == nil {
			var ne net.Error
			t.Fatalf("%s: update = %v, %v (timeout: %v); want the write taken as made", mode, ch, err, errors.As(err, &ne))
		}
		if !ch.before.in.KickedAt.IsZero() || !ch.after.in.KickedAt.Equal(kicked) {
			t.Fatalf("%s: change reported from %v to %v; want from none to %v", mode, ch.before.in.KickedAt, ch.after.in.KickedAt, kicked)
		}
		stored, err := s.get(context.Background(), rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		if stored.version != v+1 || rec.version != v+1 {
			t.Fatalf("%s: stored version %d, record's %d; want one write: %d", mode, stored.version, rec.version, v+1)
		}
	}
}

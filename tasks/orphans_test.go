package tasks

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// leftBehind sums mediaflow_media_left_behind_total over its reasons.
func (b *bundle) leftBehind() float64 {
	b.t.Helper()
	n := 0.0
	for _, r := range []string{metrics.ReasonDeleteRefused, metrics.ReasonUnrecorded, metrics.ReasonReplyLost} {
		n += b.metricValue("mediaflow_media_left_behind_total", map[string]string{"reason": r})
	}
	return n
}

// Issue 20, item 8: with a fifth of the create-media answers lost after
// Swonkie made the entry, every entry left behind is counted: a create
// sent whole whose answer never came is written down as reply_lost, and
// observe counts it (docs/design.md, I3).
func TestLostCreateRepliesAreCountedAsLeftBehind(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *setupConfig) {
		c.sandbox.Faults = sandbox.FaultPlan{"POST /media": {LostReply: 0.2}}
	})
	b.publishAllSucceed(10, "a.png", "b.png")
	st := b.sb.Server.Stats()
	if len(st.Media.LostCreates) == 0 {
		t.Fatal("no create answer was lost; the test proves nothing")
	}
	left, lost := b.leftBehind(), b.metricValue("mediaflow_media_left_behind_total", map[string]string{"reason": metrics.ReasonReplyLost})
	if left < float64(len(st.Media.Orphaned)) || lost < float64(len(st.Media.LostCreates)) {
		t.Fatalf("left_behind_total %v (reply_lost %v); the sandbox holds %d media left behind, %d of them from lost answers",
			left, lost, len(st.Media.Orphaned), len(st.Media.LostCreates))
	}
	t.Logf("%d creates, %d answers lost, %d media left behind, counted %v", st.Media.Created, len(st.Media.LostCreates), len(st.Media.Orphaned), left)
	b.assertClean()
}

// A media this run created but could not write to the record (Redis
// refuses writes at that moment) is deleted at once, tried again after a
// passing failure, each failure logged; a delete refused for good is
// counted as left behind (unrecorded).
func TestUnrecordableMediaIsDeletedWithRetries(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		deletes   []int // what the interposer answers the first DELETE /media calls (0: pass on)
		wantGone  bool
		wantLeft  float64
		wantTries int
	}{
		{"a passing failure, then deleted", []int{http.StatusServiceUnavailable}, true, 0, 2},
		{"refused for good: left behind, counted", []int{http.StatusForbidden}, false, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *setupConfig) { c.noWorker = true })
			ctx := context.Background()
			var created atomic.Value
			var deletes atomic.Int32
			withInterposer(b, func(w http.ResponseWriter, r *http.Request) bool {
				switch {
				case r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/v2/media") && created.Load() == nil:
					// The entry is made; before its answer reaches the
					// worker, Redis stops taking writes.
					created.Store(true)
					if err := b.redis.Client.ConfigSet(ctx, "maxmemory", "1").Err(); err != nil {
						t.Error(err)
					}
				case r.Method == http.MethodDelete && strings.Contains(r.URL.Path, "/v2/media/") && int(deletes.Load()) < len(tc.deletes):
					if deletes.Add(1) == 1 {
						if err := b.redis.Client.ConfigSet(ctx, "maxmemory", "0").Err(); err != nil {
							t.Error(err)
						}
					}
					w.WriteHeader(tc.deletes[deletes.Load()-1])
					return true
				}
				return false
			})
			rec := b.wait(b.publish(b.request(ActionPublishNow, "a.png")).ID)
			if rec.State != StateSucceeded {
				t.Fatalf("ended %s", dump(rec))
			}
			st := b.sb.Server.Stats()
			if st.Media.Created != 2 {
				t.Fatalf("%d media created, want the unrecorded one and the one the retry made", st.Media.Created)
			}
			logs := b.logs.String()
			if n := strings.Count(logs, "could not delete a media whose id could not be written"); n != tc.wantTries-btoi(tc.wantGone) {
				t.Errorf("%d failed deletes logged, want %d:\n%s", n, tc.wantTries-btoi(tc.wantGone), logs)
			}
			gone := len(st.Media.Orphaned) == 0
			if gone != tc.wantGone {
				t.Errorf("orphans %v; want the unrecorded media gone: %v", st.Media.Orphaned, tc.wantGone)
			}
			if got := b.metricValue("mediaflow_media_left_behind_total", map[string]string{"reason": metrics.ReasonUnrecorded}); got != tc.wantLeft {
				t.Errorf("left_behind{unrecorded} = %v, want %v", got, tc.wantLeft)
			}
			if left := b.leftBehind(); left < float64(len(st.Media.Orphaned)) {
				t.Errorf("left_behind_total %v < %d media left behind", left, len(st.Media.Orphaned))
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

package main

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// Issue 22, fairness: two workspaces, each with a call budget of 5 a
// second (burst 5), one worker with 8 slots. Workspace A gets 300
// pipelines at once; B publishes 10, one every 2 s, while A's backlog
// drains (and 30 before, with A idle, for the baseline). A's runs that find
// A's budget spent give their slots back instead of sleeping in them, so
// B's accept → attached median while A drains stays within twice its
// median with A idle; each workspace's sandbox sees at most rate + burst
// calls in any second; all 340 succeed.
//
// A's backlog takes about two minutes at A's budget (two calls a
// pipeline: a draft STATUS post is created and validated), which is the
// test's length; it waits, it does not compute, so it runs beside the
// others (t.Parallel).
func TestWorkspacesShareTheWorkerFairly(t *testing.T) {
	t.Parallel()
	const (
		limit, burst = 5, 5
		backlog      = 300
		probes       = 10 // while A drains, one every probeEvery
		probeEvery   = 2 * time.Second
		// With A idle, B's median is the baseline the ratio divides by:
		// three times the probes (at the same call rate, within B's
		// budget) make it the machine's steady figure rather than ten
		// draws of its noise (a run under the whole suite drew 27 ms where
		// others drew 41–54, and its busy median of 54 ms failed).
		idleProbes, idleEvery = 3 * probes, 600 * time.Millisecond
	)
	r := redistest.New(t)
	wss := []*testWorkspace{
		{name: "A", opts: sandbox.Options{APIID: "fair-a-app-id", APIKey: "fair-a-secret-key-0001", Seed: 22}, rateLimit: limit, rateBurst: burst},
		{name: "B", opts: sandbox.Options{APIID: "fair-b-app-id", APIKey: "fair-b-secret-key-0002", Seed: 23}, rateLimit: limit, rateBurst: burst},
	}
	env := append(serveWorkspaces(t, wss...), "REDIS_URL="+r.URL, "MEDIA_ROOT="+mediaRoot(t, 1), "LOG_LEVEL=error", "CONCURRENCY=8", "SWEEP_SCHEDULE=off")
	profiles := map[*testWorkspace]string{}
	for _, ws := range wss {
		profiles[ws] = ws.target(t).ok[0]
	}
	w := startWorker(t, env)
	client := tasks.NewClient(r.Client)
	defer client.Close()

	request := func(ws *testWorkspace, caption string) tasks.Request {
		return tasks.Request{Workspace: ws.name, Action: tasks.ActionDraft,
			Post: &tasks.PostSpec{Type: tasks.TypeStatus, ProfileIDs: []string{profiles[ws]}, Caption: caption}}
	}
	publish := func(req tasks.Request) string {
		rec, _, err := publishRetrying(t, client, req)
		if err != nil {
			t.Fatal(err)
		}
		return rec.ID
	}
	// probe publishes n of B's pipelines, one every every.
	probe := func(phase string, n int, every time.Duration) []string {
		var ids []string
		for i := range n {
			if i > 0 {
				time.Sleep(every)
			}
			ids = append(ids, publish(request(wss[1], fmt.Sprintf("B %s %d", phase, i))))
		}
		return ids
	}
	latencies := func(recs []*tasks.Record) []time.Duration {
		var out []time.Duration
		for _, rec := range recs {
			if rec.State != tasks.StateSucceeded || rec.AttachedAt == nil {
				t.Errorf("pipeline %s (%s) ended %s, not attached (%+v)", rec.ID, rec.Workspace, rec.State, rec.Error)
				continue
			}
			out = append(out, rec.AttachedAt.Sub(rec.CreatedAt))
		}
		slices.Sort(out)
		return out
	}
	median := func(ds []time.Duration) time.Duration {
		if len(ds) == 0 {
			return 0
		}
		return ds[len(ds)/2]
	}

	// B alone.
	idleIDs := probe("idle", idleProbes, idleEvery)
	idle := latencies(waitDone(t, client, r.Client, idleIDs, time.Minute, w))

	// A's backlog at once, then B's probes while it drains.
	start := time.Now()
	aIDs := make([]string, backlog)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := g; i < backlog; i += 4 {
				aIDs[i] = publish(request(wss[0], fmt.Sprintf("A %d", i)))
			}
		})
	}
	wg.Wait()
	busyIDs := probe("busy", probes, probeEvery)
	recs := waitDone(t, client, r.Client, append(slices.Clone(aIDs), busyIDs...), 6*time.Minute, w)
	drained := time.Since(start)
	aRecs, busyRecs := recs[:backlog], recs[backlog:]
	aLat, busy := latencies(aRecs), latencies(busyRecs)
	if t.Failed() {
		return
	}

	// The probes must have run while A drained, or the ratio proves nothing.
	var aLast time.Time
	for _, rec := range aRecs {
		if rec.AttachedAt.After(aLast) {
			aLast = *rec.AttachedAt
		}
	}
	for _, rec := range busyRecs {
		if rec.CreatedAt.After(aLast) {
			t.Errorf("B's pipeline %s was accepted at %s, after A's backlog drained (%s): A drained too fast for the test to measure anything",
				rec.ID, rec.CreatedAt.Format("15:04:05.000"), aLast.Format("15:04:05.000"))
		}
	}
	if got, idleP50 := median(busy), median(idle); got > 2*idleP50 {
		t.Errorf("B's accept → attached median is %v while A drains, %v with A idle: more than twice (B waits behind A's backlog)", got, idleP50)
	}
	for _, ws := range wss {
		if st := ws.sb.Server.Stats(); st.BusiestSecond > limit+burst {
			t.Errorf("workspace %s: %d calls within one second from %s (rate %d, burst %d)", ws.name, st.BusiestSecond,
				st.BusiestSecondAt.Format("15:04:05.000"), limit, burst)
		}
	}
	calls, _ := wss[0].sb.Server.BusiestWindow(time.Hour)
	t.Logf("B accept → attached: median %v with A idle %v, %v while A drains %v; A's %d pipelines: median %v, drained in %v (%d calls to A, %.1f/s)",
		median(idle), idle, median(busy), busy, backlog, median(aLat), drained.Round(time.Second), calls, float64(calls)/drained.Seconds())
}

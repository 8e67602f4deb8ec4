package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// Issue 10: every pipeline is counted once as accepted and once as
// finished, however many times its steps ran (5xx, 429, lost replies make
// them run again and make compare-and-set writes conflict) and whichever
// way it ended, cancelled ones included.
func TestPipelineCountersCountOnce(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	// Faults on every call that writes, and on the media status polls; the
	// post reads the adoption search makes are spared (see the report of
	// TestCrashSafetyRedisRestart: one failed read fails the whole search).
	hard := sandbox.Fault{Error5xx: 0.08, RateLimit: 0.08, RetryAfter: time.Second, LostReply: 0.08}
	sb := sandbox.Start(t, sandbox.Options{
		APIID: "count-id", APIKey: "count-key", Seed: 10,
		ProcessingDelay: 300 * time.Millisecond, PublishDelay: 300 * time.Millisecond,
		Faults: sandbox.FaultPlan{
			"POST /media": hard, "PATCH /media/{id}": hard, "GET /media/{id}": hard, "DELETE /media/{id}": hard,
			"POST /posts": hard, "PATCH /posts/{id}/stage/{stage}": hard, "DELETE /posts/{id}": hard,
		},
	})
	to := targetOf(t, sb.Server, "")
	metricsAddr := freeport.TestAddr(t)
	w := startWorker(t, []string{
		"REDIS_URL=" + r.URL, "SWONKIE_BASE_URL=" + sb.BaseURL, "SWONKIE_API_ID=count-id", "SWONKIE_API_KEY=count-key",
		"MEDIA_ROOT=" + mediaRoot(t, 3), "LOG_LEVEL=error", "CONCURRENCY=8", "SWONKIE_RATE_LIMIT=500", "SWONKIE_RATE_BURST=50",
		"METRICS_ADDR=" + metricsAddr,
	})
	client := tasks.NewClient(r.Client, tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Second}))
	defer client.Close()

	const n = 30
	// Scheduled far enough ahead that a cancel's withdrawal, retried
	// through the sandbox's faults, is done before the post's time.
	b := publishMix(t, r.Client, client, to, n, "counters", 15*time.Second)
	// Cancel some: two at once (still pending, most likely), four of the
	// scheduled ones once they wait for their time.
	cancelled := map[string]bool{}
	cancel := func(id string) {
		if _, err := client.Cancel(context.Background(), id); err != nil && !errors.Is(err, tasks.ErrFinished) && !errors.Is(err, tasks.ErrAlreadyPublished) {
			t.Fatalf("cancel %s: %v", id, err)
		} else if err == nil {
			cancelled[id] = true
		}
	}
	cancel(b.ids[0])
	cancel(b.ids[2])
	time.Sleep(2 * time.Second)
	for _, i := range []int{1, 5, 13, 17} { // i%4 == 1: scheduled 15 s ahead
		cancel(b.ids[i])
	}
	recs := waitDone(t, client, r.Client, b.ids, 90*time.Second, w)
	ended := map[tasks.State]int{}
	for _, rec := range recs {
		ended[rec.State]++
		want := tasks.StateSucceeded
		switch {
		case cancelled[rec.ID] && hasNote(rec, "cancel came too late"):
			// Accepted while its post was being published (a cancel
			// races the publication; the record says so): it counts as
			// succeeded, once.
			t.Logf("pipeline %s: the cancel came too late", rec.ID)
		case cancelled[rec.ID]:
			want = tasks.StateCancelled
		case b.wantFail[rec.ID]:
			want = tasks.StateFailed
		}
		if rec.State != want {
			t.Errorf("pipeline %s ended %s at %s (%+v), want %s", rec.ID, rec.State, rec.Step, rec.Error, want)
		}
	}
	if ended[tasks.StateCancelled] < 4 {
		t.Errorf("only %d pipelines cancelled: the test must cover cancellation", ended[tasks.StateCancelled])
	}
	checkSwonkie(t, sb.Server, recs, nil)

	// The counters may trail the records by a moment: the write comes
	// first, then the metric.
	var accepted, finished float64
	var byState map[string]float64
	deadline := time.Now().Add(5 * time.Second)
	for {
		accepted, byState = scrapeCounters(t, metricsAddr)
		finished = 0
		for _, v := range byState {
			finished += v
		}
		if (accepted == n && finished == n) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if accepted != n {
		t.Errorf("mediaflow_pipelines_accepted_total = %v after %d pipelines were published", accepted, n)
	}
	if finished != n {
		t.Errorf("sum of mediaflow_pipelines_finished_total = %v (%v) after %d pipelines ended (%v)", finished, byState, n, ended)
	}
	for s, c := range ended {
		if byState[string(s)] != float64(c) {
			t.Errorf("mediaflow_pipelines_finished_total{state=%q} = %v, %d pipelines ended so", s, byState[string(s)], c)
		}
	}
	st := sb.Server.Stats()
	t.Logf("%d published, %d ended %v; accepted_total %v, finished_total %v (%v); faults %v", n, len(recs), ended, accepted, finished, byState, st.Faults)
	w.stop(t)
}

// scrapeCounters reads the worker's /metrics: the accepted counter and the
// finished counter summed per state label (other labels folded in).
func scrapeCounters(t *testing.T, addr string) (accepted float64, finished map[string]float64) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape the worker: %v", err)
	}
	defer resp.Body.Close()
	finished = map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		name, rest, _ := strings.Cut(line, " ")
		switch {
		case name == "mediaflow_pipelines_accepted_total":
			accepted = parseSample(t, line, rest)
		case strings.HasPrefix(name, "mediaflow_pipelines_finished_total{"):
			labels, _, _ := strings.Cut(strings.TrimPrefix(line, "mediaflow_pipelines_finished_total{"), "}")
			state := ""
			for _, kv := range strings.Split(labels, ",") {
				if v, ok := strings.CutPrefix(kv, `state="`); ok {
					state = strings.TrimSuffix(v, `"`)
				}
			}
			_, value, _ := strings.Cut(line, "} ")
			finished[state] += parseSample(t, line, value)
		}
	}
	return accepted, finished
}

func parseSample(t *testing.T, line, value string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(strings.Fields(value)[0], 64)
	if err != nil {
		t.Fatal(fmt.Errorf("metrics line %q: %w", line, err))
	}
	return f
}

// hasNote reports whether rec's history holds an event whose message
// contains text.
func hasNote(rec *tasks.Record, text string) bool {
	return slices.ContainsFunc(rec.History, func(e tasks.Event) bool { return strings.Contains(e.Message, text) })
}

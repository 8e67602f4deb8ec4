package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// The checks the end-to-end invariant tests share: they read the sandbox
// (what Swonkie holds) and the records (what mediaflow believes), never
// the worker's own account of itself.

// mediaRoot writes n small distinct images, m0.png … and m0.jpg …, into a
// fresh folder.
func mediaRoot(t *testing.T, n int) string {
	t.Helper()
	root := t.TempDir()
	for i := range n {
		if err := testmedia.WritePNG(filepath.Join(root, fmt.Sprintf("m%d.png", i)), 16, 16, i); err != nil {
			t.Fatal(err)
		}
		if err := testmedia.WriteJPEG(filepath.Join(root, fmt.Sprintf("m%d.jpg", i)), 16, 16, i); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// profilesOf splits the sandbox's profiles into healthy ones and one whose
// connection expired (posting to it fails for good).
func profilesOf(t *testing.T, sb *sandbox.Server) (ok []string, expired string) {
	t.Helper()
	for _, p := range sb.Profiles() {
		if p.StatusLevel == swonkie.StatusOK {
			ok = append(ok, p.ID)
		} else {
			expired = p.ID
		}
	}
	if len(ok) < 2 || expired == "" {
		t.Fatalf("sandbox profiles %v: want two healthy ones and an expired one", sb.Profiles())
	}
	return ok, expired
}

// batch is a set of published pipelines and how each should end.
type batch struct {
	ids      []string
	wantFail map[string]bool
}

// join is the batches as one.
func join(bs ...*batch) *batch {
	out := &batch{wantFail: map[string]bool{}}
	for _, b := range bs {
		out.ids = append(out.ids, b.ids...)
		for id := range b.wantFail {
			out.wantFail[id] = true
		}
	}
	return out
}

// target is a workspace to publish in ("" for a worker that serves one
// unnamed), its healthy profiles and one whose connection expired.
type target struct {
	workspace string
	ok        []string
	expired   string
}

// targetOf is the sandbox's profiles as a target in workspace.
func targetOf(t *testing.T, sb *sandbox.Server, workspace string) target {
	t.Helper()
	ok, expired := profilesOf(t, sb)
	return target{workspace: workspace, ok: ok, expired: expired}
}

// publishMix publishes n pipelines of 1–3 media each in to's workspace,
// half of them to two profiles (one on Instagram, hence JPEGs): every
// tenth posts to the expired profile (it must fail and clean up), every
// fourth is scheduled scheduleIn ahead when that is set, the rest publish
// now.
//
// Pre-flight would refuse the expired profile at enqueue; those go through
// a client without it (an enqueuer with PREFLIGHT=false, or a profile
// that expires after its pre-flight), so that the post fails at attach,
// after its uploads, and compensation has media to delete.
func publishMix(t *testing.T, rc redis.UniversalClient, client *tasks.Client, to target, n int, tag string, scheduleIn time.Duration) *batch {
	t.Helper()
	unchecked := tasks.NewClient(rc, tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Second}), tasks.WithoutPreflight())
	defer unchecked.Close()
	b := &batch{wantFail: map[string]bool{}}
	// The keys are this call's own: a deployment shared by the package
	// (and go test -count=N) keeps the records of earlier runs, whose
	// media and posts a new sandbox never made.
	run := rand.Text()[:8]
	for i := range n {
		req := tasks.Request{
			Workspace: to.workspace,
			Key:       fmt.Sprintf("%s-%s-%s-%d", t.Name(), run, tag, i),
			Post:      &tasks.PostSpec{ProfileIDs: to.ok[:1+i%2], Caption: fmt.Sprintf("%s %d", tag, i)},
			Action:    tasks.ActionPublishNow,
		}
		ext := "png"
		if len(req.Post.ProfileIDs) > 1 {
			ext = "jpg" // Instagram takes JPEG only
		}
		for j := range 1 + i%3 {
			req.Media = append(req.Media, tasks.MediaSource{Source: fmt.Sprintf("m%d.%s", j, ext)})
		}
		via := client
		switch {
		case i%10 == 9:
			req.Post.ProfileIDs, via = []string{to.expired}, unchecked
		case scheduleIn > 0 && i%4 == 1:
			at := time.Now().Add(scheduleIn)
			req.Action, req.Post.PublishAt = tasks.ActionSchedule, &at
		}
		rec, _, err := publishRetrying(t, via, req)
		if err != nil {
			t.Fatalf("publish %s %d: %v", tag, i, err)
		}
		b.ids = append(b.ids, rec.ID)
		if i%10 == 9 {
			b.wantFail[rec.ID] = true
		}
	}
	return b
}

// publishRetrying publishes req, trying again for a few seconds while Redis
// is away (a failover): the request has a key, so a retry after a lost
// reply names the same pipeline.
func publishRetrying(t *testing.T, client *tasks.Client, req tasks.Request) (*tasks.Record, bool, error) {
	t.Helper()
	if req.Key == "" {
		req.Key = fmt.Sprintf("%s-%s", t.Name(), req.Post.Caption)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, created, err := client.Publish(context.Background(), req)
		if err == nil || time.Now().After(deadline) {
			return rec, created, err
		}
		if _, bad := err.(*tasks.ValidationError); bad {
			return rec, created, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitDone waits until every pipeline is terminal with its cleanup settled,
// failing the test (with the workers' logs) if one is not by the deadline
// or a worker exits. Reads that fail while Redis is away are retried.
func waitDone(t *testing.T, client *tasks.Client, rc redis.UniversalClient, ids []string, within time.Duration, workers ...*process) []*tasks.Record {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		recs, done := make([]*tasks.Record, 0, len(ids)), 0
		var readErr error
		for _, id := range ids {
			rec, err := client.Get(context.Background(), id)
			if err != nil {
				readErr = err
				break
			}
			recs = append(recs, rec)
			if rec.State.Terminal() && rec.Cleanup != tasks.CleanupPending {
				done++
			}
		}
		if readErr == nil && done == len(ids) {
			for i, w := range workers {
				// asynq recovers a handler's panic and retries the task:
				// the run "works", so only the log tells.
				if strings.Contains(w.log.String(), "recovering from panic") {
					t.Errorf("worker %d: a step panicked:\n%s", i, firstPanic(w.log.String()))
				}
			}
			return recs
		}
		for _, w := range workers {
			w.alive(t)
		}
		if time.Now().After(deadline) {
			if readErr != nil {
				t.Fatalf("read the records: %v", readErr)
			}
			live := taskStates(rc)
			for _, rec := range recs {
				if !rec.State.Terminal() || rec.Cleanup == tasks.CleanupPending {
					t.Errorf("pipeline %s lost: %s / %s / cleanup %s, updated %s; its tasks in asynq: %v",
						rec.ID, rec.State, rec.Step, rec.Cleanup, rec.UpdatedAt.Format(time.TimeOnly), live[rec.ID])
				}
			}
			for i, w := range workers {
				// SIGQUIT makes the Go runtime print every goroutine: where
				// the steps of the lost pipelines are stuck.
				_ = w.cmd.Process.Signal(syscall.SIGQUIT)
				select {
				case <-w.exited:
				case <-time.After(5 * time.Second):
				}
				t.Logf("worker %d log:\n%s", i, w.log.String())
			}
			t.Fatalf("%d of %d pipelines finished within %v", done, len(ids), within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// checkEnds checks each pipeline ended as it should (invariant 2).
func checkEnds(t *testing.T, recs []*tasks.Record, b *batch) {
	t.Helper()
	for _, rec := range recs {
		want := tasks.StateSucceeded
		if b.wantFail[rec.ID] {
			want = tasks.StateFailed
		}
		if rec.State != want {
			t.Errorf("pipeline %s ended %s at %s (error %+v), want %s", rec.ID, rec.State, rec.Step, rec.Error, want)
		}
		if rec.State == tasks.StateFailed && (rec.Error == nil || rec.Error.Message == "") {
			t.Errorf("pipeline %s failed without a reason", rec.ID)
		}
	}
}

// orphanReport is what a run left at Swonkie that no record accounts for.
type orphanReport struct {
	lostCreates, unusableCreates int // media whose create reply never reached a worker
	postLost, postUnusable       int // posts whose create reply never reached a worker
}

// checkSwonkie proves invariants 1 and 3 from the sandbox's side:
//   - no media set is referenced by two live posts (a duplicate post is
//     the same media posted twice: media ids are unique to a pipeline);
//   - every live post is the post of a pipeline that succeeded (so an
//     extra post made after a lost reply and never adopted counts);
//   - every live media is one whose create reply never reached a worker
//     (Swonkie has no list-media endpoint to find it again).
func checkSwonkie(t *testing.T, sb *sandbox.Server, recs []*tasks.Record, excused func(sandbox.MediaInfo) bool) orphanReport {
	t.Helper()
	st := sb.Stats()
	for _, g := range st.Posts.ByMediaSet {
		if len(g.Posts) > 1 {
			t.Errorf("media %v are in %d live posts %v: a duplicate post", g.Media, len(g.Posts), g.Posts)
		}
	}
	if d := st.Posts.DuplicatesByMedia(); d != 0 {
		t.Errorf("%d duplicate posts by media set", d)
	}
	named := map[string]*tasks.Record{}
	for _, rec := range recs {
		if rec.PostID != "" {
			named[rec.PostID] = rec
		}
	}
	for _, p := range sb.AllPosts() {
		if p.Deleted {
			continue
		}
		rec := named[p.Post.ID]
		switch {
		case rec == nil:
			t.Errorf("live post %s (media %v, reply lost %v, unusable %v) is no pipeline's post", p.Post.ID, p.Post.MediaLibIDs(), p.CreateReplyLost, p.CreateReplyUnusable)
		case rec.State != tasks.StateSucceeded:
			t.Errorf("post %s of pipeline %s that ended %s is still live", p.Post.ID, rec.ID, rec.State)
		}
	}
	unreachable := map[string]bool{}
	for _, id := range st.Media.LostCreates {
		unreachable[id] = true
	}
	for _, id := range st.Media.UnusableCreates {
		unreachable[id] = true
	}
	for _, id := range st.Media.Alive {
		if info, _ := sb.Media(id); !unreachable[id] {
			if excused != nil && excused(info) {
				t.Logf("media %s (%s) left %s, created as the master died: its record write was lost with it", id, info.Name, info.State)
				continue
			}
			t.Errorf("media %s (%s) left %s although its create reply reached a worker; created %s", id, info.Name, info.State, info.CreatedAt.Format("15:04:05.000"))
		}
	}
	for _, rec := range recs {
		checkAgainstSandbox(t, rec, sb)
	}
	return orphanReport{lostCreates: len(st.Media.LostCreates), unusableCreates: len(st.Media.UnusableCreates),
		postLost: len(st.Posts.LostCreates), postUnusable: len(st.Posts.UnusableCreates)}
}

// taskStates maps pipeline ids to "type:state" of each of their tasks asynq
// holds, to tell a pipeline whose task is waiting (a lease to expire, a
// retry) from one that has none left.
func taskStates(rc redis.UniversalClient) map[string][]string {
	insp := asynq.NewInspectorFromRedisClient(rc)
	out := map[string][]string{}
	type lister func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	for _, q := range []string{tasks.QueuePipeline, tasks.QueueCleanup, tasks.QueueNotify} {
		for name, list := range map[string]lister{"pending": insp.ListPendingTasks, "active": insp.ListActiveTasks,
			"scheduled": insp.ListScheduledTasks, "retry": insp.ListRetryTasks, "archived": insp.ListArchivedTasks} {
			infos, err := list(q, asynq.PageSize(1000))
			if err != nil {
				continue
			}
			for _, ti := range infos {
				var p struct {
					Pipeline string `json:"pipelineId"`
				}
				_ = json.Unmarshal(ti.Payload, &p)
				out[p.Pipeline] = append(out[p.Pipeline], fmt.Sprintf("%s:%s(retried %d, next %s, err %q)", ti.Type, name, ti.Retried, ti.NextProcessAt.Format(time.TimeOnly), ti.LastErr))
			}
		}
	}
	return out
}

func firstPanic(log string) string {
	i := strings.Index(log, "recovering from panic")
	if i < 0 {
		return ""
	}
	return strings.ReplaceAll(log[i:min(len(log), i+1500)], `\n`, "\n")
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/freeport"
	"github.com/mediaflow/mediaflow/internal/redisserver"
	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// The Redis deployments of issue 12, started once for the package (a
// cluster and a sentinel set take seconds each) and stopped by TestMain.
var (
	clusterOnce   sync.Once
	sharedCluster *redisserver.Cluster
	clusterErr    error

	sentinelOnce   sync.Once
	sharedSentinel *redisserver.SentinelSet
	sentinelErr    error

	deploymentsDir string
)

func startedCluster(t *testing.T) *redisserver.Cluster {
	t.Helper()
	clusterOnce.Do(func() {
		dir := filepath.Join(deploymentsDir, "cluster")
		if clusterErr = os.MkdirAll(dir, 0o755); clusterErr == nil {
			sharedCluster, clusterErr = redisserver.StartCluster(dir, 3)
		}
	})
	if clusterErr != nil {
		t.Fatal(clusterErr)
	}
	return sharedCluster
}

func startedSentinel(t *testing.T) *redisserver.SentinelSet {
	t.Helper()
	sentinelOnce.Do(func() {
		dir := filepath.Join(deploymentsDir, "sentinel")
		if sentinelErr = os.MkdirAll(dir, 0o755); sentinelErr == nil {
			sharedSentinel, sentinelErr = redisserver.StartSentinel(dir)
		}
	})
	if sentinelErr != nil {
		t.Fatal(sentinelErr)
	}
	return sharedSentinel
}

// stopDeployments is TestMain's: whatever the tests started.
func stopDeployments() {
	if sharedCluster != nil {
		sharedCluster.Kill()
	}
	if sharedSentinel != nil {
		sharedSentinel.Kill()
	}
}

// faultySandbox is the strict sandbox with the faults every deployment
// test runs under: 5xx and 429 on the calls that write, lost replies on
// both creates.
func faultySandbox(t *testing.T, id string, seed int64) *sandbox.Running {
	t.Helper()
	w := sandbox.Fault{Error5xx: 0.05, RateLimit: 0.05, RetryAfter: time.Second}
	return sandbox.Start(t, sandbox.Options{
		APIID: id, APIKey: id + "-key", Seed: seed,
		ProcessingDelay: 300 * time.Millisecond, PublishDelay: 300 * time.Millisecond, Latency: 20 * time.Millisecond,
		Faults: sandbox.FaultPlan{
			"POST /media":                     {Error5xx: 0.05, RateLimit: 0.05, LostReply: 0.08},
			"POST /posts":                     {Error5xx: 0.05, RateLimit: 0.05, LostReply: 0.15},
			"PATCH /media/{id}":               w,
			"PATCH /posts/{id}/stage/{stage}": w,
			"DELETE /media/{id}":              w,
		},
	})
}

func workerEnv(redisURL string, sb *sandbox.Running, root string, id string) []string {
	return []string{
		"REDIS_URL=" + redisURL, "SWONKIE_BASE_URL=" + sb.BaseURL, "SWONKIE_API_ID=" + id, "SWONKIE_API_KEY=" + id + "-key",
		"MEDIA_ROOT=" + root, "LOG_LEVEL=warn", "CONCURRENCY=8", "SWONKIE_RATE_LIMIT=500", "SWONKIE_RATE_BURST=50",
	}
}

// Issue 12 on Redis Cluster: 40 pipelines with faults through a worker on
// redis-cluster://, then the front ends on the same URL: enqueue
// publish/status/list and the HTTP API.
func TestFleetOnRedisCluster(t *testing.T) {
	t.Parallel()
	cl := startedCluster(t)
	sb := faultySandbox(t, "cluster-id", 12)
	to := targetOf(t, sb.Server, "")
	root := mediaRoot(t, 3)
	apiAddr := freeport.TestAddr(t)
	w := startWorker(t, append(workerEnv(cl.URL, sb, root, "cluster-id"), "API_ADDR="+apiAddr, "API_TOKENS="+testToken))
	rc, err := redisurl.NewClient(cl.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	client := tasks.NewClient(rc, tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Second}))
	defer client.Close()

	start := time.Now()
	b := publishMix(t, rc, client, to, 40, "cluster", 6*time.Second)
	recs := waitDone(t, client, rc, b.ids, 90*time.Second, w)
	checkEnds(t, recs, b)
	rep := checkSwonkie(t, sb.Server, recs, nil)
	t.Logf("cluster: 40 pipelines in %v; media create replies lost %d, unusable %d; post replies lost %d; faults %v",
		time.Since(start).Round(time.Second), rep.lostCreates, rep.unusableCreates, rep.postLost, sb.Server.Stats().Faults)

	// The enqueue CLI on the cluster URL.
	cliEnv := append(os.Environ(), "REDIS_URL="+cl.URL, "MEDIA_ROOT="+root)
	enqueue := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(enqueueBin, args...)
		cmd.Env = cliEnv
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			t.Fatalf("enqueue %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	id := strings.TrimSpace(enqueue("publish", "--media", "m1.png", "--profile", to.ok[0], "--caption", "cluster cli", "--now", "--wait"))
	var st struct {
		ID, State, PostID string
	}
	if err := json.Unmarshal([]byte(enqueue("status", id, "--json")), &st); err != nil || st.ID != id || st.State != string(tasks.StateSucceeded) || st.PostID == "" {
		t.Errorf("enqueue status %s: %+v (%v)", id, st, err)
	}
	if list := enqueue("list", "--state", "succeeded", "--limit", "100"); !strings.Contains(list, id) {
		t.Errorf("enqueue list does not show %s:\n%s", id, list)
	}

	// The HTTP API the worker serves beside it, on the same client.
	body := fmt.Sprintf(`{"media":[{"source":"m2.jpg"}],"post":{"type":"MEDIA","profileIds":[%q],"caption":"cluster api"},"action":"publishNow"}`, to.ok[1]) // Instagram: JPEG
	status, resp, hdr := apiCall(t, apiAddr, http.MethodPost, "/v1/pipelines", testToken, body)
	if status != http.StatusAccepted {
		t.Fatalf("POST /v1/pipelines on the cluster: %d %s", status, resp)
	}
	var rec tasks.Record
	if err := json.Unmarshal(resp, &rec); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Wait(context.Background(), rec.ID, 200*time.Millisecond, nil); err != nil {
		t.Fatal(err)
	}
	if status, resp, _ := apiCall(t, apiAddr, http.MethodGet, hdr.Get("Location"), testToken, ""); status != http.StatusOK || !bytes.Contains(resp, []byte(`"succeeded"`)) {
		t.Errorf("GET %s: %d %s", hdr.Get("Location"), status, resp)
	}
	if status, resp, _ := apiCall(t, apiAddr, http.MethodGet, "/v1/pipelines?limit=100", testToken, ""); status != http.StatusOK || !bytes.Contains(resp, []byte(rec.ID)) || !bytes.Contains(resp, []byte(id)) {
		t.Errorf("GET /v1/pipelines: %d, lists the API's and the CLI's pipelines: %v", status, bytes.Contains(resp, []byte(rec.ID)) && bytes.Contains(resp, []byte(id)))
	}
	w.stop(t)
	for _, bad := range []string{"MOVED", "CROSSSLOT", "CLUSTERDOWN"} {
		if strings.Contains(w.log.String(), bad) {
			t.Errorf("worker log holds %s", bad)
		}
	}
}

// Issue 12 on Sentinel: a master with a password, /3 in the URL. 40
// pipelines with faults run through a SENTINEL FAILOVER, then more through
// a SIGKILL of the master; none is lost, no post is made twice, and the
// data is in DB 3 of the master.
func TestFleetOnSentinel(t *testing.T) {
	t.Parallel()
	set := startedSentinel(t)
	url := strings.Replace(set.URL, "/0?", "/3?", 1)
	if url == set.URL {
		t.Fatalf("sentinel URL %s has no /0 to replace", set.URL)
	}
	sb := faultySandbox(t, "sentinel-id", 13)
	to := targetOf(t, sb.Server, "")
	root := mediaRoot(t, 3)
	// A master killed takes acknowledged writes with it, an enqueued task
	// among them: the sweep is what finds a pipeline whose task is gone
	// and enqueues it again. Here it runs every few seconds.
	w := startWorker(t, append(workerEnv(url, sb, root, "sentinel-id"), "SWEEP_SCHEDULE=@every 5s", "PENDING_KICK_AFTER=10s"))
	rc, err := redisurl.NewClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	client := tasks.NewClient(rc, tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Second}))
	defer client.Close()

	start := time.Now()
	b := publishMix(t, rc, client, to, 40, "failover", 0)
	time.Sleep(1500 * time.Millisecond)
	before := countStates(t, client, b.ids)
	failoverFrom := time.Now()
	if err := set.Failover(); err != nil {
		t.Fatal(err)
	}
	failoverTo := time.Now()
	t.Logf("SENTINEL FAILOVER done with pipelines %v", before)
	kill := publishMix(t, rc, client, to, 10, "kill", 0)
	time.Sleep(1500 * time.Millisecond)
	before = countStates(t, client, kill.ids)
	killedAt := time.Now()
	killed, err := set.KillMaster()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("master %s killed with the last 10 pipelines %v; a replica promoted", killed.Addr, before)
	if err := killed.Restart(); err != nil {
		t.Fatal(err)
	}
	all := &batch{ids: append(b.ids, kill.ids...), wantFail: b.wantFail}
	for id := range kill.wantFail {
		all.wantFail[id] = true
	}
	// Steps in flight at a switch wait for asynq's lease recovery (up to
	// two minutes); publishNow only, as in TestCrashSafetyRedisRestart.
	recs := waitDone(t, client, rc, all.ids, 150*time.Second, w)
	checkEnds(t, recs, all)
	// A SIGKILLed master takes with it the writes it acknowledged but had
	// not replicated yet (Redis replication is asynchronous), and so does
	// an old master demoted in a failover, for what it took during the
	// switch: a media id recorded then may be lost, and the step creates
	// another. No pipeline is lost and no post doubled for it (checked
	// above and below); such media are reported, not failed.
	rep := checkSwonkie(t, sb.Server, recs, func(m sandbox.MediaInfo) bool {
		during := !m.CreatedAt.Before(failoverFrom.Add(-time.Second)) && !m.CreatedAt.After(failoverTo.Add(time.Second))
		return during || createdAsKilled(m.CreatedAt, []time.Time{killedAt})
	})
	t.Logf("sentinel: 50 pipelines in %v through a failover (%s to %s) and a master kill (%s); media create replies lost %d, unusable %d; post replies lost %d",
		time.Since(start).Round(time.Second), failoverFrom.Format("15:04:05.000"), failoverTo.Format("15:04:05.000"), killedAt.Format("15:04:05.000"),
		rep.lostCreates, rep.unusableCreates, rep.postLost)
	if t.Failed() {
		t.Logf("worker log:\n%s", w.log.String())
	}

	// The data lives in DB 3 of the password-protected master.
	m, err := set.Master(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for db, want := range map[int]bool{3: true, 0: false} {
		c := redis.NewClient(&redis.Options{Addr: m.Addr, Password: set.Password, DB: db})
		n, err := c.DBSize(context.Background()).Result()
		_ = c.Close()
		if err != nil || (n > 0) != want {
			t.Errorf("master %s DB %d holds %d keys (%v)", m.Addr, db, n, err)
		}
	}
	w.stop(t)
}

package main

import (
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// wait and follow say how pipelines ended through their exit codes, on
// the built binary: 0 all succeeded, 1 any failed, was cancelled or is
// unknown, 124 when --timeout ran out first.
func TestWaitAndFollowExitCodes(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	// Without pre-flight, the expired profile fails at attach, after
	// media were made: the case whose words this proves.
	env := map[string]string{"REDIS_URL": c.redis.URL, "MEDIA_ROOT": c.root, "PREFLIGHT": "false"}
	publish := func(profile string, action ...string) string {
		t.Helper()
		args := append([]string{"publish", "--media", "a.png", "--profile", profile, "--caption", "x"}, action...)
		code, stdout, stderr := runBinary(t, env, "", args...)
		if code != exitOK {
			t.Fatalf("publish: exit %d, %s", code, stderr)
		}
		return strings.TrimSpace(stdout)
	}
	ok1 := publish(c.profiles[0], "--draft")
	ok2 := publish(c.profiles[0], "--now")
	failed := publish(c.expired, "--now")
	later := publish(c.profiles[0], "--at", time.Now().Add(time.Hour).UTC().Format(time.RFC3339))
	unknown := tasks.PipelineID("no such key")

	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string
	}{
		{"wait, all succeed", []string{"wait", ok1, ok2}, exitOK, []string{"pipeline " + ok1 + " succeeded", "pipeline " + ok2 + " succeeded"}},
		{"wait, one fails", []string{"wait", ok1, failed}, exitFailed, []string{"pipeline " + failed + " failed: attach"}},
		{"wait, one unknown", []string{"wait", ok1, unknown}, exitFailed, []string{"pipeline not found"}},
		{"wait, timeout", []string{"wait", ok1, later, "--timeout", "500ms"}, exitTimeout, []string{"1 of 2 pipeline(s) still not over", later}},
		{"follow, succeeds", []string{"follow", ok2}, exitOK, []string{"succeeded", "post "}},
		{"follow, fails", []string{"follow", failed}, exitFailed, []string{"failed: attach"}},
		{"follow, timeout", []string{"follow", later, "--timeout", "400ms"}, exitTimeout, []string{"scheduled", "enqueue follow " + later}},
		{"wait, no id", []string{"wait"}, exitUsage, []string{"want at least one pipeline id"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runBinary(t, env, "", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout %s\nstderr %s", code, tt.code, stdout, stderr)
			}
			for _, w := range tt.stderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}

	// A cancelled pipeline is not a success either; the cancel says what
	// it undoes (here: no post yet, nothing made).
	pending := publish(c.profiles[0], "--at", time.Now().Add(2*time.Hour).UTC().Format(time.RFC3339))
	code, stdout, stderr := runBinary(t, env, "", "cancel", pending)
	if code != exitOK || strings.Contains(stdout, "withdrawn") && !strings.Contains(stdout, "post ") {
		t.Errorf("cancel: exit %d, %q %q", code, stdout, stderr)
	}
	if code, _, stderr := runBinary(t, env, "", "wait", pending); code != exitFailed || !strings.Contains(stderr, "cancelled") {
		t.Errorf("wait on a cancelled pipeline: exit %d, %s", code, stderr)
	}
}

// status prints a summary a person reads; --json the record.
func TestStatusSummary(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	// Without pre-flight, the expired profile fails at attach, after its
	// media were made and then deleted: the summary this proves.
	code, stdout, stderr := c.runEnv(map[string]string{"PREFLIGHT": "false"}, "", "publish", "--media", "a.png", "--profile", c.expired,
		"--caption", "x", "--now", "--wait")
	id := strings.TrimSpace(stdout)
	if code != exitFailed {
		t.Fatalf("publish to an expired profile: exit %d, %s", code, stderr)
	}
	code, stdout, stderr = c.run("", "status", id)
	if code != exitOK {
		t.Fatalf("status: exit %d, %s", code, stderr)
	}
	for _, w := range []string{"pipeline  " + id, "state", "failed, step attach", "media 0", "a.png", "deleted",
		"profile " + c.expired + ": not reported yet", "error", "failed (attach, HTTP 400, permanent", "history:", "accepted"} {
		if !strings.Contains(stdout, w) {
			t.Errorf("status lacks %q:\n%s", w, stdout)
		}
	}
	rec, err := tasks.NewClient(c.redis.Client).Get(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	// The error in full, not cut.
	if !strings.Contains(stdout, rec.Error.Message) {
		t.Errorf("status cuts the error %q:\n%s", rec.Error.Message, stdout)
	}
	code, stdout, _ = c.run("", "status", id, "--json")
	if code != exitOK || !strings.Contains(stdout, `"state": "failed"`) {
		t.Errorf("status --json: exit %d\n%s", code, stdout)
	}
	t.Logf("enqueue status:\n%s", func() string { _, out, _ := c.run("", "status", id); return out }())
}

// A cancel says what it undoes, from what the pipeline made: a pipeline
// with no post has none to withdraw.
func TestUndoWords(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		rec     tasks.Record
		want    string
		notWant string
	}{
		{"nothing made", tasks.Record{ID: "p", Media: []tasks.MediaItem{{}}}, "nothing was made on Swonkie yet", "withdrawn"},
		{"media only", tasks.Record{ID: "p", Media: []tasks.MediaItem{{MediaID: "m1"}}}, "its 1 media deleted", "withdrawn"},
		{"our post", tasks.Record{ID: "p", PostID: "post1", PostCreated: true, Media: []tasks.MediaItem{{MediaID: "m1"}}}, "its post post1 will be withdrawn and its 1 media deleted", ""},
		{"caller's post", tasks.Record{ID: "p", PostID: "post1", Media: []tasks.MediaItem{{MediaID: "m1"}}}, "taken off post post1", "withdrawn"},
	}
	for _, tt := range tests {
		got := undoWords(&tt.rec)
		if !strings.Contains(got, tt.want) || tt.notWant != "" && strings.Contains(got, tt.notWant) {
			t.Errorf("%s: %q, want %q without %q", tt.name, got, tt.want, tt.notWant)
		}
	}
}

// edit reschedules a scheduled pipeline; replay runs a failed one again
// with another profile, to success.
func TestEditAndReplayCommands(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	at := time.Now().Add(time.Hour).UTC().Truncate(time.Second)
	code, stdout, stderr := c.run("", "publish", "--media", "a.png", "--profile", c.profiles[0], "--caption", "before", "--at", at.Format(time.RFC3339))
	if code != exitOK {
		t.Fatalf("publish: %d %s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if code, _, stderr := c.run("", "edit", id); code != exitUsage || !strings.Contains(stderr, "nothing to change") {
		t.Errorf("edit without flags: %d %s", code, stderr)
	}
	later := at.Add(time.Hour)
	code, stdout, stderr = c.run("", "edit", id, "--caption", "after", "--at", later.Format(time.RFC3339))
	if code != exitOK || !strings.Contains(stdout, "edit of pipeline "+id+" recorded") {
		t.Fatalf("edit: %d %q %s", code, stdout, stderr)
	}
	cl := tasks.NewClient(c.redis.Client)
	deadline := time.Now().Add(20 * time.Second)
	for {
		rec, err := cl.Get(t.Context(), id)
		if err == nil && rec.Staged && rec.PostPublishAt != nil && rec.PostPublishAt.Equal(later) && rec.Request.Post.Caption == "after" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the edit did not reach the post: %+v %v", rec, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _, stderr := c.run("", "replay", id); code != exitFailed || !strings.Contains(stderr, "only a failed or cancelled pipeline") {
		t.Errorf("replay of a scheduled pipeline: %d %s", code, stderr)
	}

	// Without pre-flight (which refuses it at once) a post to an expired
	// profile is accepted and fails at attach.
	code, stdout, _ = c.runEnv(map[string]string{"PREFLIGHT": "false"}, "", "publish", "--media", "a.png", "--profile", c.expired, "--caption", "x", "--now", "--wait")
	failed := strings.TrimSpace(stdout)
	if code != exitFailed {
		t.Fatalf("publish to an expired profile: %d", code)
	}
	code, stdout, stderr = c.run("", "replay", failed, "--profile", c.profiles[0], "--wait")
	if code != exitOK || !strings.Contains(stdout, "(attempt 2)") || !strings.Contains(stderr, "succeeded") {
		t.Errorf("replay --wait: %d %q %s", code, stdout, stderr)
	}
}

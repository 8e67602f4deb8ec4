package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/internal/workertest"
	"github.com/mediaflow/mediaflow/tasks"
)

// cli is one test's world: Redis, a media root holding a PNG, a text file
// and a folder, and (when asked) a worker on the sandbox.
type cli struct {
	t        *testing.T
	redis    *redistest.Redis
	root     string
	profiles []string
	world    *workertest.World
	// expired is a profile whose connection expired: posts to it fail.
	expired string
}

func newCLI(t *testing.T, withWorker bool) *cli {
	t.Helper()
	w := workertest.Start(t, workertest.Options{Worker: withWorker})
	c := &cli{t: t, redis: w.Redis, root: w.Root, profiles: w.Profiles, world: w, expired: w.Expired}
	for name, data := range map[string][]byte{"a.png": testmedia.PNG(8, 8, 1), "notes.txt": []byte("text\n")} {
		if err := os.WriteFile(filepath.Join(c.root, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(c.root, "folder.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	return c
}

func (c *cli) run(stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	return c.runEnv(nil, stdin, args...)
}

// runEnv is run with more environment variables.
func (c *cli) runEnv(extra map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	c.t.Helper()
	env := map[string]string{"REDIS_URL": c.redis.URL, "MEDIA_ROOT": c.root}
	for k, v := range extra {
		env[k] = v
	}
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

// keys are Redis's keys but a running worker's asynq heartbeats, which
// come and go on their own.
func (c *cli) keys() []string {
	keys, err := c.redis.Client.Keys(context.Background(), "*").Result()
	if err != nil {
		c.t.Fatal(err)
	}
	return slices.DeleteFunc(keys, func(k string) bool {
		return strings.HasPrefix(k, "asynq:servers") || strings.HasPrefix(k, "asynq:workers")
	})
}

func TestBadInputIsOneLineAndEnqueuesNothing(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	p := c.profiles[0]
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, exitUsage, "usage: enqueue"},
		{"unknown command", []string{"send"}, exitUsage, `unknown command "send"`},
		{"unknown flag", []string{"publish", "--bogus"}, exitUsage, "enqueue publish: unknown flag: --bogus (see 'enqueue publish --help')"},
		{"one dash on a long flag", []string{"publish", "-media", "a.png"}, exitUsage, "(long flags take two dashes: --media)"},
		{"no action", []string{"publish", "--media", "a.png", "--profile", p, "--caption", "x"}, exitUsage, "choose one of --at"},
		{"two actions", []string{"publish", "--media", "a.png", "--profile", p, "--caption", "x", "--now", "--draft"}, exitUsage, "choose one of --at"},
		{"bad time", []string{"publish", "--media", "a.png", "--profile", p, "--caption", "x", "--at", "tomorrow"}, exitUsage, "not an RFC 3339 time"},
		{"past time", []string{"publish", "--media", "a.png", "--profile", p, "--caption", "x", "--at", "2020-01-01T00:00:00Z"}, exitUsage, "post.publishAt"},
		{"no profile", []string{"publish", "--media", "a.png", "--caption", "x", "--now"}, exitUsage, "post.profileIds"},
		{"no media", []string{"publish", "--profile", p, "--caption", "x", "--now"}, exitUsage, "media: at least one"},
		{"outside MEDIA_ROOT", []string{"publish", "--media", "../../etc/passwd", "--profile", p, "--caption", "x", "--now"}, exitUsage, "media[0].source"},
		{"absolute path outside", []string{"publish", "--media", "/etc/hostname", "--profile", p, "--caption", "x", "--now"}, exitUsage, "media[0].source"},
		{"missing file", []string{"publish", "--media", "gone.png", "--profile", p, "--caption", "x", "--now"}, exitUsage, "gone.png"},
		{"unreadable file (a folder)", []string{"publish", "--media", "folder.png", "--profile", p, "--caption", "x", "--now"}, exitUsage, "media[0].source"},
		{"unsupported file", []string{"publish", "--media", "notes.txt", "--profile", p, "--caption", "x", "--now"}, exitUsage, "not an image or video"},
		{"bad scheme", []string{"publish", "--media", "ftp://host/a.png", "--profile", p, "--caption", "x", "--now"}, exitUsage, "media[0].source"},
		{"unknown cleanup", []string{"publish", "--media", "a.png", "--profile", p, "--caption", "x", "--now", "--cleanup", "later"}, exitUsage, "cleanup"},
		{"post and profile", []string{"publish", "--media", "a.png", "--post", "UG9zdA==", "--profile", p, "--now"}, exitUsage, "--post attaches"},
		{"stray argument", []string{"publish", "--media", "a.png", "extra"}, exitUsage, `unexpected argument "extra"`},
		{"status without id", []string{"status"}, exitUsage, "want 1 argument"},
		{"unknown pipeline", []string{"status", "0193a000-0000-7000-8000-000000000000"}, exitFailed, "not found"},
		{"bad state", []string{"list", "--state", "done"}, exitUsage, "unknown state"},
		{"batch file missing", []string{"batch", "/nonexistent.jsonl"}, exitUsage, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := c.run("", tt.args...)
			if code != tt.code {
				t.Errorf("exit %d, want %d (stderr %q)", code, tt.code, stderr)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q does not say %q", stderr, tt.want)
			}
			if tt.args != nil && strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
				t.Errorf("want one line, got:\n%s", stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			if keys := c.keys(); len(keys) != 0 {
				t.Errorf("Redis holds %v", keys)
			}
		})
	}
}

func TestUnreachableRedis(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	env := map[string]string{"REDIS_URL": "redis://127.0.0.1:1/0"}
	code := run(context.Background(), []string{"list"}, func(k string) string { return env[k] }, strings.NewReader(""), &out, &errOut)
	if code != exitRuntime || !strings.Contains(errOut.String(), "cannot reach Redis") || strings.Count(strings.TrimSpace(errOut.String()), "\n") != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut.String())
	}
}

func TestBatchSkipsBadLinesAndReportsThem(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	good := func(caption string) string {
		b, _ := json.Marshal(tasks.Request{
			Media: []tasks.MediaSource{{Source: "a.png"}}, Action: tasks.ActionDraft,
			Post: &tasks.PostSpec{ProfileIDs: c.profiles[:1], Caption: caption},
		})
		return string(b)
	}
	lines := []string{
		good("first"),
		`{"media": [{"source": "a.png"}], `,
		`{"media": [{"source": "a.png"}], "post": {"profileIds": ["x"], "caption": "x"}, "action": "draft", "colour": "red"}`,
		`{"media": [{"source": "a.png"}], "post": {"caption": "no profile"}, "action": "draft"}`,
		``,
		`{"media": "a.png"}`,
		good("second"),
	}
	path := filepath.Join(t.TempDir(), "requests.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, via := range []string{"file", "stdin"} {
		t.Run(via, func(t *testing.T) {
			var code int
			var stdout, stderr string
			if via == "file" {
				code, stdout, stderr = c.run("", "batch", path)
			} else {
				code, stdout, stderr = c.run(strings.Join(lines, "\n"), "batch", "-")
			}
			if code != exitFailed {
				t.Errorf("exit %d, want %d", code, exitFailed)
			}
			ids := strings.Fields(stdout)
			if len(ids) != 2 {
				t.Fatalf("stdout %q: want two ids", stdout)
			}
			for _, want := range []string{"line 2: malformed JSON", "line 3: unknown field \"colour\"", "line 4: invalid publish request: post.profileIds", "line 6: field media", "2 enqueued, 4 bad line(s)"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "line 5") || strings.Contains(stderr, "line 1:") || strings.Contains(stderr, "line 7") {
				t.Errorf("good or empty lines reported:\n%s", stderr)
			}
		})
	}
	// The two runs enqueued the same two (keyless) requests twice.
	page, err := tasks.NewClient(c.redis.Client).List(context.Background(), tasks.ListOptions{Limit: 100})
	if err != nil || len(page.Records) != 4 {
		t.Fatalf("records %d, %v; want 4", len(page.Records), err)
	}
}

func TestPublishWaitStatusListCancel(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	code, stdout, stderr := c.run("", "publish", "--media", "a.png", "--profile", c.profiles[0], "--profile", c.profiles[2],
		"--caption", "from the CLI", "--now", "--key", "cli-1", "--wait")
	if code != exitOK {
		t.Fatalf("publish --wait: exit %d\n%s", code, stderr)
	}
	id := strings.TrimSpace(stdout)
	if strings.Count(stdout, "\n") != 1 || len(id) != 36 {
		t.Fatalf("stdout %q: want the pipeline id alone", stdout)
	}
	if !strings.Contains(stderr, "pending") || !strings.Contains(stderr, "succeeded") {
		t.Errorf("no progress on stderr:\n%s", stderr)
	}
	// The lines tell the truth: no Swonkie SCHEDULED after --now, no
	// cleanup before the end, and the last line once nothing is pending.
	progress := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, l := range progress {
		if strings.Contains(l, "SCHEDULED") || strings.Contains(l, "scheduled") {
			t.Errorf("--now, yet: %q", l)
		}
		if strings.Contains(l, "cleanup") && !strings.Contains(l, "succeeded") {
			t.Errorf("cleanup before the end: %q", l)
		}
	}
	if last := progress[len(progress)-1]; !strings.Contains(last, "succeeded (post ") || !strings.Contains(last, "published, cleanup done") {
		t.Errorf("last line %q", last)
	}

	code, stdout, _ = c.run("", "status", id, "--json")
	var rec map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &rec) != nil {
		t.Fatalf("status: exit %d, %q", code, stdout)
	}
	for _, field := range []string{"id", "key", "state", "step", "media", "postId", "attempts", "createdAt", "updatedAt", "history"} {
		if _, ok := rec[field]; !ok {
			t.Errorf("status JSON lacks %q", field)
		}
	}
	if rec["state"] != "succeeded" || rec["key"] != "cli-1" {
		t.Errorf("status %v/%v", rec["state"], rec["key"])
	}
	media := rec["media"].([]any)[0].(map[string]any)
	for _, field := range []string{"source", "mediaId", "status", "bytes"} {
		if _, ok := media[field]; !ok {
			t.Errorf("media lacks %q", field)
		}
	}

	// The same key again: the same id, nothing new.
	code, stdout, _ = c.run("", "publish", "--media", "a.png", "--profile", c.profiles[0], "--profile", c.profiles[2],
		"--caption", "from the CLI", "--now", "--key", "cli-1")
	if code != exitOK || strings.TrimSpace(stdout) != id {
		t.Fatalf("same key: exit %d, id %q, want %s", code, stdout, id)
	}

	code, stdout, _ = c.run("", "list", "--state", "succeeded")
	if code != exitOK || !strings.Contains(stdout, id) {
		t.Fatalf("list: exit %d\n%s", code, stdout)
	}
	code, _, stderr = c.run("", "cancel", id)
	if code != exitFailed || !strings.Contains(stderr, "already finished") {
		t.Fatalf("cancel finished: exit %d %q", code, stderr)
	}

	// A pipeline that fails makes --wait exit non-zero: a PNG for
	// Instagram, which takes JPEG only, fails in pre-flight.
	code, stdout, stderr = c.run("", "publish", "--media", "a.png", "--profile", c.profiles[1], "--caption", "x", "--now", "--wait")
	if code != exitFailed || !strings.Contains(stderr, "failed: preflight: ") || strings.Contains(stderr, "preflight: preflight:") {
		t.Fatalf("failing pipeline: exit %d\n%s", code, stderr)
	}
	// --wait returned only once the compensation was over.
	failed, err := tasks.NewClient(c.redis.Client).Get(context.Background(), strings.TrimSpace(stdout))
	if err != nil || failed.State != tasks.StateFailed || failed.Cleanup == tasks.CleanupPending {
		t.Fatalf("after --wait: %v, %v", failed, err)
	}
	if !strings.Contains(stderr, "cleanup done") {
		t.Errorf("the end does not say the cleanup is done:\n%s", stderr)
	}
	// The failed pipeline lists with its reason; the succeeded one with none
	// (its line ends with its UPDATED column).
	succeeded, err := tasks.NewClient(c.redis.Client).Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, _ = c.run("", "list")
	if code != exitOK || !strings.Contains(stdout, "LAST ERROR") {
		t.Fatalf("list: exit %d\n%s", code, stdout)
	}
	for _, l := range strings.Split(stdout, "\n") {
		switch {
		case strings.HasPrefix(l, id) && !strings.HasSuffix(strings.TrimSpace(l), succeeded.UpdatedAt.Local().Format(time.DateTime)):
			t.Errorf("succeeded pipeline shows an error: %q", l)
		case strings.HasPrefix(l, failed.ID) && !strings.Contains(l, "preflight: "):
			t.Errorf("failed pipeline lacks its reason: %q", l)
		}
	}
}

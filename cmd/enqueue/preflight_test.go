package main

import (
	"context"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/tasks"
)

// Profiles at enqueue: with no directory cached the CLI says so, queues,
// and the pipeline fails in pre-flight with nothing created at the
// sandbox; once a worker cached the directory, an unknown profile is
// refused with exit 2, naming it, and nothing is queued.
func TestPublishChecksProfilesOnceTheDirectoryIsCached(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	const unknown = "bm8tc3VjaC1wcm9maWxl"
	code, stdout, stderr := c.run("", "publish", "--media", "a.png", "--profile", unknown, "--caption", "x", "--now", "--wait")
	if code != exitFailed || !strings.Contains(stderr, "no profile directory is cached yet") || !strings.Contains(stderr, "failed: preflight: ") ||
		!strings.Contains(stderr, unknown) {
		t.Fatalf("no directory cached: exit %d (want %d, queued then failed in pre-flight)\n%s", code, exitFailed, stderr)
	}
	rec, err := tasks.NewClient(c.redis.Client).Get(context.Background(), strings.TrimSpace(stdout))
	if err != nil || rec.State != tasks.StateFailed || rec.Step != tasks.StepPreflight {
		t.Fatalf("pipeline: %+v, %v", rec, err)
	}
	if n := len(c.world.Sandbox.Server.AllMedia()); n != 0 {
		t.Errorf("the sandbox saw %d media created for a pipeline that failed in pre-flight", n)
	}

	// Pre-flight fetched the directory on demand; a worker's loop would
	// have too. Now the CLI refuses the profile before queueing anything.
	before := c.keys()
	code, stdout, stderr = c.run("", "publish", "--media", "a.png", "--profile", c.profiles[0], "--profile", unknown, "--caption", "x", "--now")
	if code != exitUsage || stdout != "" || !strings.Contains(stderr, "post.profileIds[1]") || !strings.Contains(stderr, unknown) ||
		strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Fatalf("unknown profile, directory cached: exit %d (want %d), stdout %q, stderr %q", code, exitUsage, stdout, stderr)
	}
	if after := c.keys(); len(after) != len(before) {
		t.Errorf("a refused request changed Redis: %d keys, then %d", len(before), len(after))
	}
	code, _, stderr = c.run("", "publish", "--media", "a.png", "--profile", c.world.Expired, "--caption", "x", "--now")
	if code != exitUsage || !strings.Contains(stderr, "EXPIRED") {
		t.Errorf("expired profile: exit %d, %q", code, stderr)
	}
}

// publish --dry-run lists every problem of a request with three faults
// in one answer — an unknown profile, a caption too long for one of its
// networks, a URL whose host does not exist — and creates nothing: the
// Redis key count and the sandbox's counters stay as they were.
func TestDryRunListsEveryProblemAndCreatesNothing(t *testing.T) {
	t.Parallel()
	c := newCLI(t, true)
	if _, err := c.world.Worker.RefreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	before, stats := c.keys(), c.world.Sandbox.Server.Stats()
	const unknown = "bm8tc3VjaC1wcm9maWxl"
	code, stdout, stderr := c.run("", "publish", "--dry-run", "--media", "a.png", "--media", "https://nonexistent.invalid/b.jpg",
		"--profile", c.profiles[0], "--profile", c.profiles[2], "--profile", unknown,
		"--caption", strings.Repeat("word ", 700), "--now")
	if code != exitUsage {
		t.Fatalf("dry run of a bad request: exit %d, want %d\n%s", code, exitUsage, stderr)
	}
	var res tasks.CheckResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("stdout is not the answer: %v\n%s", err, stdout)
	}
	want := []struct{ rule, net, item, value string }{
		{tasks.RuleProfileKnown, "", "post.profileIds[2]", unknown},
		{"caption.length", "linkedin", "caption", "3500"},
		{tasks.RuleSourceReadable, "", "media[1] (b.jpg)", "https://nonexistent.invalid/b.jpg"},
	}
	if res.Valid || len(res.Problems) != len(want) {
		t.Fatalf("valid %v, %d problems, want %d: %+v", res.Valid, len(res.Problems), len(want), res.Problems)
	}
	for _, w := range want {
		if !slices.ContainsFunc(res.Problems, func(f tasks.Finding) bool {
			return f.Rule == w.rule && f.Network == w.net && strings.HasPrefix(f.Item, w.item) && strings.HasPrefix(f.Value, w.value)
		}) {
			t.Errorf("no problem %+v among %+v", w, res.Problems)
		}
	}
	if len(res.Media) != 2 || res.Media[0].Info == nil || res.Media[0].Info.Width != 8 {
		t.Errorf("media %+v: want a.png probed (8×8)", res.Media)
	}
	if strings.Count(stderr, "nonexistent.invalid") != 1 {
		t.Errorf("the source is not named exactly once on stderr:\n%s", stderr)
	}
	if after := c.keys(); len(after) != len(before) {
		t.Errorf("the dry run changed Redis: %d keys, then %d: %v", len(before), len(after), after)
	}
	if got := c.world.Sandbox.Server.Stats(); got.Media.Created != stats.Media.Created || got.Posts.Created != stats.Posts.Created ||
		!reflect.DeepEqual(got.Requests, stats.Requests) {
		t.Errorf("the dry run called the sandbox: %v, then %v", stats.Requests, got.Requests)
	}
}

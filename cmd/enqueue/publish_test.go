package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
)

// Webhook URLs and media URLs pass the same address guard as in the
// worker, with ALLOWED_SOURCE_HOSTS from the environment or the flag.
func TestWebhookAndAllowedHosts(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	p := c.profiles[0]
	base := []string{"publish", "--media", "a.png", "--profile", p, "--caption", "x", "--draft"}
	allowEnv := map[string]string{"ALLOWED_SOURCE_HOSTS": "cdn.internal, 10.0.0.5"}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		code   int
		stderr string
		hook   *tasks.WebhookSpec
	}{
		{"public https webhook", nil, []string{"--webhook", "https://hooks.example.com/mf?t=1"}, exitOK, "", &tasks.WebhookSpec{URL: "https://hooks.example.com/mf?redacted"}},
		{"attached event too", nil, []string{"--webhook", "https://hooks.example.com/mf", "--webhook-event", "pipeline.attached"}, exitOK, "",
			&tasks.WebhookSpec{URL: "https://hooks.example.com/mf", Events: []string{"pipeline.attached"}}},
		{"private webhook refused", nil, []string{"--webhook", "http://10.0.0.5/hook"}, exitUsage, "webhook.url", nil},
		{"loopback https webhook refused", nil, []string{"--webhook", "https://127.0.0.1/hook"}, exitUsage, "webhook.url", nil},
		{"private webhook allowed by env", allowEnv, []string{"--webhook", "http://10.0.0.5/hook"}, exitOK, "", &tasks.WebhookSpec{URL: "http://10.0.0.5/hook"}},
		{"private webhook allowed by flag", nil, []string{"--allowed-source-hosts", "10.0.0.5", "--webhook", "http://10.0.0.5/hook"}, exitOK, "", &tasks.WebhookSpec{URL: "http://10.0.0.5/hook"}},
		{"flag wins over env", map[string]string{"ALLOWED_SOURCE_HOSTS": "10.0.0.5"}, []string{"--allowed-source-hosts", "cdn.internal", "--webhook", "http://10.0.0.5/hook"}, exitUsage, "webhook.url", nil},
		{"plain http public webhook refused", nil, []string{"--webhook", "http://hooks.example.com/mf"}, exitUsage, "webhook.url", nil},
		{"terminal event asked for", nil, []string{"--webhook", "https://hooks.example.com/mf", "--webhook-event", "pipeline.succeeded"}, exitUsage, "webhook.events[0]", nil},
		{"event without webhook", nil, []string{"--webhook-event", "pipeline.attached"}, exitUsage, "--webhook-event needs --webhook", nil},
		{"timeout without wait", nil, []string{"--timeout", "1s"}, exitUsage, "--timeout bounds --wait", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := c.runEnv(tt.env, "", append(append([]string{}, base...), tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tt.code, stderr, tt.stderr)
			}
			if tt.code != exitOK {
				if stdout != "" {
					t.Errorf("stdout %q for a refused request", stdout)
				}
				return
			}
			_, status, _ := c.run("", "status", strings.TrimSpace(stdout), "--json")
			var rec tasks.Record
			if err := json.Unmarshal([]byte(status), &rec); err != nil {
				t.Fatal(err)
			}
			if got := rec.Request.Webhook; got == nil || got.URL != tt.hook.URL || strings.Join(got.Events, ",") != strings.Join(tt.hook.Events, ",") {
				t.Errorf("recorded webhook %+v, want %+v", got, tt.hook)
			}
		})
	}

	// The README's example: a media store on a private address.
	media := []string{"publish", "--media", "http://10.0.0.5/media/a.png", "--profile", p, "--caption", "x", "--draft"}
	if code, _, stderr := c.run("", media...); code != exitUsage || !strings.Contains(stderr, "media[0].source") {
		t.Errorf("private media URL without ALLOWED_SOURCE_HOSTS: exit %d %q", code, stderr)
	}
	if code, _, stderr := c.runEnv(allowEnv, "", media...); code != exitOK {
		t.Errorf("private media URL with ALLOWED_SOURCE_HOSTS: exit %d %q", code, stderr)
	}

	// Batch lines carry webhooks, checked the same way.
	line := `{"media":[{"source":"a.png"}],"post":{"profileIds":["` + p + `"],"caption":"b"},"action":"draft","webhook":{"url":"http://10.0.0.5/hook"}}`
	if code, _, stderr := c.run(line, "batch", "-"); code != exitFailed || !strings.Contains(stderr, "line 1: ") || !strings.Contains(stderr, "webhook.url") {
		t.Errorf("batch, private webhook: exit %d %q", code, stderr)
	}
	if code, stdout, stderr := c.runEnv(allowEnv, line, "batch", "-"); code != exitOK || len(strings.Fields(stdout)) != 1 {
		t.Errorf("batch, allowed webhook: exit %d %q %q", code, stdout, stderr)
	}
}

// --wait --timeout gives up following, not the pipeline, and says how to
// go on.
func TestWaitTimeout(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	code, stdout, stderr := c.run("", "publish", "--media", "a.png", "--profile", c.profiles[0], "--caption", "x", "--draft", "--wait", "--timeout", "400ms")
	id := strings.TrimSpace(stdout)
	if code != exitTimeout || !strings.Contains(stderr, "--timeout 400ms") || !strings.Contains(stderr, "enqueue follow "+id) {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	if !strings.Contains(stderr, "pending") {
		t.Errorf("no progress line:\n%s", stderr)
	}
}

// A line up to the limit is read whole; a longer one is one bad line, and
// the lines after it are enqueued.
func TestBatchOverlongLines(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	good := func(caption string) string {
		return `{"media":[{"source":"a.png"}],"post":{"profileIds":["` + c.profiles[0] + `"],"caption":"` + caption + `"},"action":"draft"}`
	}
	// Padded with spaces (JSON white space) to just under, at and over 4000 bytes.
	pad := func(s string, n int) string { return s + strings.Repeat(" ", n-len(s)) }
	input := strings.Join([]string{
		pad(good("under"), 3999),
		pad(good("at"), 4000),
		pad(good("over"), 4001),
		good("after"),
		pad(good("last, no newline"), 9000),
	}, "\n")
	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"API_MAX_BODY", map[string]string{"API_MAX_BODY": "4000"}, []string{"batch", "-"}},
		{"--max-line", map[string]string{"API_MAX_BODY": "10"}, []string{"batch", "--max-line", "4000", "-"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := c.runEnv(tt.env, input, tt.args...)
			if code != exitFailed || len(strings.Fields(stdout)) != 3 {
				t.Fatalf("exit %d, stdout %q, stderr %s", code, stdout, stderr)
			}
			for _, want := range []string{"line 3: longer than 4000 bytes", "line 5: longer than 4000 bytes", "3 enqueued, 2 bad line(s)"} {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
		})
	}
	if code, _, stderr := c.runEnv(map[string]string{"API_MAX_BODY": "lots"}, "", "batch", "-"); code != exitUsage || !strings.Contains(stderr, "API_MAX_BODY") {
		t.Errorf("bad API_MAX_BODY: exit %d %q", code, stderr)
	}
}

// `publish --key` and `batch` retried after a timeout print the pipeline
// of the first try even when --at has come within the minimum lead (a
// minute) since: a refusal stands only for a key that names no pipeline.
func TestIdempotentRetryWhenPublishAtCameClose(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	p := c.profiles[0]
	at := time.Now().Add(30 * time.Second).UTC().Truncate(time.Second)
	// The first try, as `enqueue publish` builds it, accepted when --at was
	// further ahead: a client whose lead is a second stands in for the
	// clock having moved on.
	req := tasks.Request{Key: "retry-after-timeout", Media: []tasks.MediaSource{{Source: "a.png"}},
		Post:   &tasks.PostSpec{Type: "MEDIA", ProfileIDs: []string{p}, Caption: "soon", PublishAt: &at},
		Action: tasks.ActionSchedule, Cleanup: tasks.CleanupAfterPublish}
	earlier := tasks.NewClient(c.redis.Client, tasks.WithTiming(tasks.Timing{MinScheduleLead: time.Second}))
	t.Cleanup(func() { _ = earlier.Close() })
	first, created, err := earlier.Publish(context.Background(), req)
	if err != nil || !created {
		t.Fatalf("first try: created=%v err=%v", created, err)
	}

	args := []string{"publish", "--media", "a.png", "--profile", p, "--caption", "soon", "--at", at.Format(time.RFC3339)}
	code, stdout, stderr := c.run("", append(args, "--key", "retry-after-timeout")...)
	if code != exitOK || strings.TrimSpace(stdout) != first.ID {
		t.Errorf("publish retry: exit %d, stdout %q (want %s), stderr %q", code, stdout, first.ID, stderr)
	}
	line, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr = c.run(string(line)+"\n", "batch", "-")
	if code != exitOK || strings.TrimSpace(stdout) != first.ID {
		t.Errorf("batch retry: exit %d, stdout %q (want %s), stderr %q", code, stdout, first.ID, stderr)
	}
	// A new key with that --at is judged, and refused.
	if code, _, stderr := c.run("", append(args, "--key", "a-new-key")...); code != exitUsage || !strings.Contains(stderr, "post.publishAt") {
		t.Errorf("a new key: exit %d %q, want %d naming post.publishAt", code, stderr, exitUsage)
	}
}

// The post flags: per-network captions, links, TikTok's disclosure flags,
// labels by name and by id, review, and --post-json for the rest; what
// they ask for is in the record `enqueue status` prints.
func TestPostFlags(t *testing.T) {
	t.Parallel()
	c := newCLI(t, false)
	p := c.profiles[0]
	postFile := func(body string) string {
		path := filepath.Join(t.TempDir(), "post.json")
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	carousel := postFile(`{"caption":"Shop","facebook":{"carouselEndCard":true,"carousels":[
		{"link":"https://shop.example/a","title":"A"},{"link":"https://shop.example/b","title":"B","callToAction":"NO_BUTTON"}]},
		"tiktok":{"disableDuet":true}}`)
	yes := true
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
		check  func(*tasks.Request) bool
	}{
		{"captions per network, tiktok flags, labels, review", []string{"--media", "a.png", "--profile", p, "--caption", "All",
			"--caption-for", "instagram=Insta words", "--caption-for", "tiktok=Tok = words", "--tiktok-branded", "--tiktok-ai-generated",
			"--label", "Summer 2030", "--label-id", "TGFiZWw=", "--review"}, exitOK, "", func(r *tasks.Request) bool {
			return r.Action == tasks.ActionReview && r.Post.Caption == "All" && len(r.Post.Captions) == 2 &&
				r.Post.Captions[1] == tasks.CaptionFor{Net: "tiktok", Text: "Tok = words"} &&
				reflect.DeepEqual(r.Post.TikTok, &swonkie.TikTokOptions{IsBrandedContent: &yes, IsAiGenerated: &yes}) &&
				slices.Equal(r.Post.Labels, []string{"Summer 2030"}) && slices.Equal(r.Post.LabelIDs, []string{"TGFiZWw="})
		}},
		{"review at a time", []string{"--media", "a.png", "--profile", p, "--caption", "x", "--review", "--at", "2030-03-21T09:00:00Z"}, exitOK, "",
			func(r *tasks.Request) bool { return r.Action == tasks.ActionReview && r.Post.PublishAt != nil }},
		{"a link makes a LINK post", []string{"--link", "https://news.example/a", "--profile", p, "--now"}, exitOK, "", func(r *tasks.Request) bool {
			return r.Post.Type == tasks.TypeLink && len(r.Media) == 0 && r.Post.Links[0].URL == "https://news.example/a"
		}},
		{"a status post", []string{"--type", "STATUS", "--profile", p, "--caption", "Open on Sunday", "--now"}, exitOK, "", func(r *tasks.Request) bool {
			return r.Post.Type == tasks.TypeStatus && len(r.Media) == 0
		}},
		{"the rest from a file, flags added", []string{"--media", "a.png", "--profile", p, "--post-json", carousel, "--tiktok-branded", "--draft"}, exitOK, "",
			func(r *tasks.Request) bool {
				return r.Post.Caption == "Shop" && len(r.Post.Facebook.Carousels) == 2 && *r.Post.Facebook.CarouselEndCard &&
					*r.Post.TikTok.DisableDuet && *r.Post.TikTok.IsBrandedContent && slices.Equal(r.Post.ProfileIDs, []string{p})
			}},
		{"a carousel of one card", []string{"--media", "a.png", "--profile", p, "--now",
			"--post-json", postFile(`{"caption":"x","facebook":{"carousels":[{"link":"https://a.b","title":"A"}]}}`)}, exitUsage, "post.facebook.carousels", nil},
		{"an unknown option in the file", []string{"--media", "a.png", "--profile", p, "--now",
			"--post-json", postFile(`{"caption":"x","tiktok":{"isPaid":true}}`)}, exitUsage, "post.tiktok.isPaid", nil},
		{"a file that is not an object", []string{"--media", "a.png", "--profile", p, "--now", "--post-json", postFile(`{"caption":"x"},"postId":"y"`)},
			exitUsage, "not one JSON object", nil},
		{"a caption both ways", []string{"--media", "a.png", "--profile", p, "--caption", "other", "--now", "--post-json", carousel},
			exitUsage, "--caption and the post in --post-json", nil},
		{"a caption-for without a network", []string{"--media", "a.png", "--profile", p, "--caption", "x", "--caption-for", "hello", "--now"},
			exitUsage, "NET=TEXT", nil},
		{"a caption-for an unknown network", []string{"--media", "a.png", "--profile", p, "--caption", "x", "--caption-for", "myspace=hi", "--now"},
			exitUsage, "post.captions[0].net", nil},
		{"review and now", []string{"--media", "a.png", "--profile", p, "--caption", "x", "--review", "--now"}, exitUsage, "choose one", nil},
		{"a status post with media", []string{"--type", "STATUS", "--media", "a.png", "--profile", p, "--caption", "x", "--now"}, exitUsage, "media", nil},
		{"post flags with --post", []string{"--media", "a.png", "--post", "UG9zdA==", "--label", "x", "--draft"}, exitUsage, "--post attaches", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := c.run("", append([]string{"publish"}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.stderr) {
				t.Fatalf("exit %d (want %d), stderr %q (want %q)", code, tt.code, stderr, tt.stderr)
			}
			if tt.code != exitOK {
				return
			}
			_, status, _ := c.run("", "status", strings.TrimSpace(stdout), "--json")
			var rec tasks.Record
			if err := json.Unmarshal([]byte(status), &rec); err != nil {
				t.Fatal(err)
			}
			if !tt.check(&rec.Request) {
				t.Errorf("recorded request %s", status)
			}
		})
	}
}

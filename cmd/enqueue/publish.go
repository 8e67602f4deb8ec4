package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error {
	*r = append(*r, v)
	return nil
}

func runPublish(e *env, args []string) int {
	var c common
	fs := e.flags("publish", &c)
	var media, profiles, labels repeated
	fs.Var(&media, "media", "media source: a path under MEDIA_ROOT, file:// or http(s):// URL (repeat for several)")
	fs.Var(&profiles, "profile", "profile id to publish to (repeat for several)")
	fs.Var(&labels, "label", "label id to put on the post (repeat for several)")
	caption := fs.String("caption", "", "the post's text")
	firstComment := fs.String("first-comment", "", "a first comment")
	typ := fs.String("type", "MEDIA", "post type: MEDIA, STORY or REEL")
	at := fs.String("at", "", "schedule for this time (RFC 3339, e.g. 2026-12-01T09:30:00Z)")
	now := fs.Bool("now", false, "publish at once")
	draft := fs.Bool("draft", false, "only create the post")
	postID := fs.String("post", "", "attach the media to this existing post instead of creating one")
	key := fs.String("key", "", "idempotency key: the same key always answers the same pipeline")
	cleanup := fs.String("cleanup", string(tasks.CleanupAfterPublish), "after-publish (delete the media once published) or never")
	wait := fs.Bool("wait", false, "show progress on stderr and exit 0 only if the pipeline succeeds")
	if code, ok := e.parse(fs, args, 0); !ok {
		return code
	}

	req := tasks.Request{Key: *key, PostID: *postID, Cleanup: tasks.CleanupPolicy(*cleanup)}
	for _, m := range media {
		req.Media = append(req.Media, tasks.MediaSource{Source: m})
	}
	chosen := 0
	for _, b := range []bool{*at != "", *now, *draft} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		fmt.Fprintln(e.stderr, "enqueue publish: choose one of --at TIME (schedule), --now or --draft")
		return exitUsage
	}
	var publishAt *time.Time
	switch {
	case *at != "":
		t, err := time.Parse(time.RFC3339, *at)
		if err != nil {
			fmt.Fprintf(e.stderr, "enqueue publish: --at %q is not an RFC 3339 time like 2026-12-01T09:30:00Z\n", *at)
			return exitUsage
		}
		publishAt = &t
		req.Action = tasks.ActionSchedule
	case *now:
		req.Action = tasks.ActionPublishNow
	default:
		req.Action = tasks.ActionDraft
	}
	if *postID == "" {
		req.Post = &tasks.PostSpec{
			Type: *typ, ProfileIDs: profiles, Caption: *caption, FirstComment: *firstComment,
			PublishAt: publishAt, LabelIDs: labels,
		}
	} else if len(profiles) > 0 || *caption != "" || len(labels) > 0 || *firstComment != "" {
		fmt.Fprintln(e.stderr, "enqueue publish: --post attaches media to an existing post; --profile, --caption, --label and --first-comment describe a new one")
		return exitUsage
	}

	cl, closeFn, err := e.client(&c)
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue publish:", err)
		return exitRuntime
	}
	defer closeFn()
	rec, _, err := cl.Publish(e.ctx, req)
	if err != nil {
		return e.fail("publish", err)
	}
	fmt.Fprintln(e.stdout, rec.ID)
	if !*wait {
		return exitOK
	}
	return e.follow(cl, rec.ID)
}

// follow shows a pipeline's progress on stderr until it ends; the exit
// code says whether it succeeded.
func (e *env) follow(cl *tasks.Client, id string) int {
	start := time.Now()
	rec, err := cl.Wait(e.ctx, id, 300*time.Millisecond, func(r *tasks.Record) {
		fmt.Fprintf(e.stderr, "%6.1fs  %s\n", time.Since(start).Seconds(), r.Progress())
	})
	if err != nil {
		return e.fail("publish --wait", err)
	}
	if rec.State != tasks.StateSucceeded {
		msg := string(rec.State)
		if rec.Error != nil {
			msg += " in step " + string(rec.Error.Step) + ": " + rec.Error.Message
		}
		fmt.Fprintf(e.stderr, "pipeline %s %s\n", id, msg)
		return exitFailed
	}
	return exitOK
}

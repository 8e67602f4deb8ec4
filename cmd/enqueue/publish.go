package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

// publishFlags are publish's own flags.
type publishFlags struct {
	media, profiles, labels, events []string
	caption, firstComment, typ, at  string
	now, draft                      bool
	postID, key, cleanup, webhook   string
	wait                            bool
	timeout                         time.Duration
}

func (e *env) publishCommand() *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish --media SRC --profile ID --caption TEXT (--now | --at TIME | --draft) [flags]",
		Short: "Publish media: start one pipeline and print its id",
		Long: `publish starts one pipeline and prints its id on stdout.

Choose exactly one of --now, --at TIME or --draft. A media source is a path
under MEDIA_ROOT, a file:// URL or an http(s) URL. With --wait, progress goes
to stderr and the exit code says how the pipeline ended; Ctrl-C stops
following (exit 130), never the pipeline.`,
		Example: `  # Publish two pictures to two profiles at once and follow it to the end
  enqueue publish --media spring/a.jpg --media https://cdn.example.com/b.jpg \
    --profile prof_123 --profile prof_456 --caption "Spring is here" --now --wait

  # Schedule a reel, safe to repeat (same key, same pipeline), and be told by webhook
  enqueue publish --type REEL --media clip.mp4 --profile prof_123 --caption "Soon" \
    --at 2030-03-21T09:00:00Z --key spring-reel-1 \
    --webhook https://hooks.example.com/mediaflow --webhook-event pipeline.attached`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return e.publish(&f) },
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.StringArrayVar(&f.media, "media", nil, "media source `SRC`: a path under MEDIA_ROOT, file:// or http(s):// URL (repeat for several)")
	fl.StringArrayVar(&f.profiles, "profile", nil, "profile `ID` to publish to (repeat for several)")
	fl.StringVar(&f.caption, "caption", "", "the post's `TEXT`")
	fl.BoolVar(&f.now, "now", false, "publish at once")
	fl.StringVar(&f.at, "at", "", "schedule for this `TIME` (RFC 3339, e.g. 2026-12-01T09:30:00Z)")
	fl.BoolVar(&f.draft, "draft", false, "only create the post")
	fl.StringVar(&f.typ, "type", "MEDIA", "post `TYPE`: MEDIA, STORY or REEL")
	fl.StringVar(&f.firstComment, "first-comment", "", "a first comment (`TEXT`)")
	fl.StringArrayVar(&f.labels, "label", nil, "label `ID` to put on the post (repeat for several)")
	fl.StringVar(&f.postID, "post", "", "attach the media to this existing post (`ID`) instead of creating one")
	fl.StringVar(&f.key, "key", "", "idempotency `KEY`: the same key always answers the same pipeline")
	fl.StringVar(&f.cleanup, "cleanup", string(tasks.CleanupAfterPublish), "`POLICY`: after-publish (delete the media once published) or never")
	fl.StringVar(&f.webhook, "webhook", "", "send the pipeline's events to this `URL` (https; private hosts only if in ALLOWED_SOURCE_HOSTS)")
	fl.StringArrayVar(&f.events, "webhook-event", nil, "also send this `EVENT` besides the terminal one: pipeline.attached")
	fl.BoolVar(&f.wait, "wait", false, "show progress on stderr and exit 0 only if the pipeline succeeds")
	fl.DurationVar(&f.timeout, "timeout", 0, "with --wait, stop following after this long (`DURATION`, e.g. 10m; exit 124; 0 waits for the end)")
	return cmd
}

func (e *env) publish(f *publishFlags) error {
	req, err := f.request()
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue publish:", err)
		return exit(exitUsage)
	}
	cl, closeFn, err := e.connect("publish")
	if err != nil {
		return err
	}
	defer closeFn()
	rec, _, err := cl.Publish(e.ctx, req)
	if err != nil {
		return e.fail("publish", err)
	}
	fmt.Fprintln(e.stdout, rec.ID)
	if !f.wait {
		return nil
	}
	return exit(e.follow(cl, rec.ID, f.timeout))
}

// request turns the flags into a publish request; its errors are flag
// mistakes, checked before Redis is reached.
func (f *publishFlags) request() (tasks.Request, error) {
	req := tasks.Request{Key: f.key, PostID: f.postID, Cleanup: tasks.CleanupPolicy(f.cleanup)}
	for _, m := range f.media {
		req.Media = append(req.Media, tasks.MediaSource{Source: m})
	}
	chosen := 0
	for _, b := range []bool{f.at != "", f.now, f.draft} {
		if b {
			chosen++
		}
	}
	if chosen != 1 {
		return req, fmt.Errorf("choose one of --at TIME (schedule), --now or --draft")
	}
	var publishAt *time.Time
	switch {
	case f.at != "":
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return req, fmt.Errorf("--at %q is not an RFC 3339 time like 2026-12-01T09:30:00Z", f.at)
		}
		publishAt = &t
		req.Action = tasks.ActionSchedule
	case f.now:
		req.Action = tasks.ActionPublishNow
	default:
		req.Action = tasks.ActionDraft
	}
	if f.postID == "" {
		req.Post = &tasks.PostSpec{
			Type: f.typ, ProfileIDs: f.profiles, Caption: f.caption, FirstComment: f.firstComment,
			PublishAt: publishAt, LabelIDs: f.labels,
		}
	} else if len(f.profiles) > 0 || f.caption != "" || len(f.labels) > 0 || f.firstComment != "" {
		return req, fmt.Errorf("--post attaches media to an existing post; --profile, --caption, --label and --first-comment describe a new one")
	}
	switch {
	case f.webhook != "":
		req.Webhook = &tasks.WebhookSpec{URL: f.webhook, Events: f.events}
	case len(f.events) > 0:
		return req, fmt.Errorf("--webhook-event needs --webhook URL")
	}
	if f.timeout != 0 && !f.wait {
		return req, fmt.Errorf("--timeout bounds --wait; add --wait")
	}
	if f.timeout < 0 {
		return req, fmt.Errorf("--timeout %s: want a positive duration", f.timeout)
	}
	return req, nil
}

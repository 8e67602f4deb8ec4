package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
)

// publishFlags are publish's own flags.
type publishFlags struct {
	media, profiles, labels, labelIDs, events []string
	captionsFor, links                        []string
	caption, firstComment, typ, at, postJSON  string
	workspace                                 string
	now, draft, review                        bool
	tiktokBranded, tiktokAI                   bool
	postID, key, cleanup, webhook             string
	wait, dryRun                              bool
	timeout                                   time.Duration
	// typeSet: --type was given (a --link alone makes a LINK post).
	typeSet bool
}

func (e *env) publishCommand() *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish --media SRC --profile ID --caption TEXT (--now | --at TIME | --draft | --review) [flags]",
		Short: "Publish media: start one pipeline and print its id",
		Long: `publish starts one pipeline and prints its id on stdout.

Choose one of --now, --at TIME (schedule), --draft or --review (hand the post
to the team for sign-off; with --at it keeps that time). A media source is a
path under MEDIA_ROOT, a file:// URL or an http(s) URL. --caption is every
network's text; --caption-for NET=TEXT replaces it on one network. --link
makes a LINK post (no --media needed); --type STATUS a text-only one.
--post-json FILE reads the post object of the request schema (every option:
per-network media, carousels, Instagram, LinkedIn and TikTok objects); the
other post flags add to it. With --wait, progress goes to stderr and the exit
code says how the pipeline ended; Ctrl-C stops following (exit 130), never
the pipeline.`,
		Example: `  # Publish two pictures to two profiles at once and follow it to the end
  enqueue publish --media spring/a.jpg --media https://cdn.example.com/b.jpg \
    --profile prof_123 --profile prof_456 --caption "Spring is here" --now --wait

  # Schedule a reel, safe to repeat (same key, same pipeline), and be told by webhook
  enqueue publish --type REEL --media clip.mp4 --profile prof_123 --caption "Soon" \
    --at 2030-03-21T09:00:00Z --key spring-reel-1 \
    --webhook https://hooks.example.com/mediaflow --webhook-event pipeline.attached

  # One caption per network, TikTok's disclosure flags, a label by name, for review
  enqueue publish --media clip.mp4 --profile prof_ig --profile prof_tt --caption "Summer" \
    --caption-for "instagram=Summer #sun" --tiktok-branded --label "Summer 2030" --review

  # A LINK post, and a text-only one
  enqueue publish --link https://news.example.com/story --profile prof_fb --caption "Read it" --now
  enqueue publish --type STATUS --profile prof_fb --caption "Open on Sunday" --now`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			f.typeSet = cmd.Flags().Changed("type")
			return e.publish(&f)
		},
	}
	fl := cmd.Flags()
	fl.SortFlags = false
	fl.StringArrayVar(&f.media, "media", nil, "media source `SRC`: a path under MEDIA_ROOT, file:// or http(s):// URL (repeat for several)")
	fl.StringArrayVar(&f.profiles, "profile", nil, "profile `ID` to publish to (repeat for several)")
	fl.StringVar(&f.caption, "caption", "", "the post's `TEXT`")
	fl.BoolVar(&f.now, "now", false, "publish at once")
	fl.StringVar(&f.at, "at", "", "schedule for this `TIME` (RFC 3339, e.g. 2026-12-01T09:30:00Z)")
	fl.BoolVar(&f.draft, "draft", false, "only create the post")
	fl.BoolVar(&f.review, "review", false, "hand the post to the team for sign-off (stage TEAM_REVIEW)")
	fl.StringVar(&f.typ, "type", "MEDIA", "post `TYPE`: MEDIA, STORY, REEL, LINK or STATUS")
	fl.StringVar(&f.firstComment, "first-comment", "", "a first comment (`TEXT`)")
	fl.StringArrayVar(&f.captionsFor, "caption-for", nil, "the caption of one network, in place of --caption there: `NET=TEXT`, e.g. instagram=Hello (repeat for several)")
	fl.StringArrayVar(&f.links, "link", nil, "`URL` of a LINK post (makes the post a LINK post)")
	fl.BoolVar(&f.tiktokBranded, "tiktok-branded", false, "TikTok: the post is branded content (a paid partnership)")
	fl.BoolVar(&f.tiktokAI, "tiktok-ai-generated", false, "TikTok: the content is AI-generated")
	fl.StringArrayVar(&f.labels, "label", nil, "label `NAME` to put on the post, created once if the workspace has none (repeat for several)")
	fl.StringArrayVar(&f.labelIDs, "label-id", nil, "label `ID` to put on the post (repeat for several)")
	fl.StringVar(&f.postJSON, "post-json", "", "read the post object from `FILE` (JSON, the request schema's post); the other post flags add to it")
	fl.StringVar(&f.postID, "post", "", "attach the media to this existing post (`ID`) instead of creating one")
	fl.StringVar(&f.key, "key", "", "idempotency `KEY`: the same key always answers the same pipeline")
	fl.StringVar(&f.workspace, "workspace", "", "the Swonkie workspace to publish in (`NAME` from the workspaces file); required when the fleet publishes for several")
	fl.StringVar(&f.cleanup, "cleanup", string(tasks.CleanupAfterPublish), "`POLICY`: after-publish (delete the media once published) or never")
	fl.StringVar(&f.webhook, "webhook", "", "send the pipeline's events to this `URL` (https; private hosts only if in ALLOWED_SOURCE_HOSTS)")
	fl.StringArrayVar(&f.events, "webhook-event", nil, "also send this `EVENT` besides the terminal one: pipeline.attached")
	fl.BoolVar(&f.dryRun, "dry-run", false, "only check: print what pre-flight finds (problems, warnings, each media probed) as JSON, queue nothing; exit 2 when the post could not publish")
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
	if f.dryRun {
		return e.dryRun(cl, req)
	}
	rec, _, err := cl.Publish(e.ctx, req)
	if err != nil {
		return e.fail("publish", err)
	}
	if req.Post != nil && len(req.Post.ProfileIDs) > 0 {
		// Say why an unknown profile passed here and may fail later.
		if dir, err := cl.ProfileDirectory(e.ctx, rec.Workspace); err == nil && dir == nil {
			fmt.Fprintln(e.stderr, "enqueue publish: no profile directory is cached yet (no worker has fetched one): "+
				"the profiles are checked by the pipeline's pre-flight step")
		}
	}
	fmt.Fprintln(e.stdout, rec.ID)
	if !f.wait {
		return nil
	}
	return exit(e.follow(cl, "publish", rec.ID, f.timeout))
}

// request turns the flags into a publish request; its errors are flag
// mistakes, checked before Redis is reached.
func (f *publishFlags) request() (tasks.Request, error) {
	req := tasks.Request{Key: f.key, Workspace: f.workspace, PostID: f.postID, Cleanup: tasks.CleanupPolicy(f.cleanup)}
	for _, m := range f.media {
		req.Media = append(req.Media, tasks.MediaSource{Source: m})
	}
	chosen := 0
	for _, b := range []bool{f.now, f.draft, f.review} {
		if b {
			chosen++
		}
	}
	if chosen > 1 || chosen == 0 && f.at == "" || f.at != "" && (f.now || f.draft) {
		return req, fmt.Errorf("choose one of --at TIME (schedule), --now, --draft or --review (which --at may join)")
	}
	var publishAt *time.Time
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return req, fmt.Errorf("--at %q is not an RFC 3339 time like 2026-12-01T09:30:00Z", f.at)
		}
		publishAt = &t
	}
	switch {
	case f.review:
		req.Action = tasks.ActionReview
	case f.now:
		req.Action = tasks.ActionPublishNow
	case f.draft:
		req.Action = tasks.ActionDraft
	default:
		req.Action = tasks.ActionSchedule
	}
	if f.postID != "" {
		if f.describesPost() {
			return req, fmt.Errorf("--post attaches media to an existing post; --profile, --caption, --caption-for, --link, --label, --label-id, --first-comment, --tiktok-* and --post-json describe a new one")
		}
	} else {
		post, err := f.post(publishAt)
		if err != nil {
			return req, err
		}
		req.Post = post
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

// describesPost: a flag about a new post was given.
func (f *publishFlags) describesPost() bool {
	return len(f.profiles) > 0 || f.caption != "" || len(f.labels) > 0 || len(f.labelIDs) > 0 || f.firstComment != "" ||
		len(f.captionsFor) > 0 || len(f.links) > 0 || f.tiktokBranded || f.tiktokAI || f.postJSON != ""
}

// post is the new post the flags describe: the --post-json file's, with
// the flags added to it. A value given both ways is a mistake.
func (f *publishFlags) post(publishAt *time.Time) (*tasks.PostSpec, error) {
	p := &tasks.PostSpec{}
	if f.postJSON != "" {
		var err error
		if p, err = readPostJSON(f.postJSON); err != nil {
			return nil, err
		}
	}
	set := func(flag string, dst *string, v string) error {
		switch {
		case v == "":
		case *dst != "" && *dst != v:
			return fmt.Errorf("%s and the post in --post-json both say %s; give it once", flag, strings.TrimPrefix(flag, "--"))
		default:
			*dst = v
		}
		return nil
	}
	typ := ""
	if f.typeSet || f.postJSON == "" && len(f.links) == 0 {
		typ = f.typ
	}
	if len(f.links) > 0 && !f.typeSet && p.Type == "" {
		typ = tasks.TypeLink
	}
	if err := errors.Join(set("--type", &p.Type, typ), set("--caption", &p.Caption, f.caption),
		set("--first-comment", &p.FirstComment, f.firstComment)); err != nil {
		return nil, err
	}
	if publishAt != nil {
		if p.PublishAt != nil && !p.PublishAt.Equal(*publishAt) {
			return nil, fmt.Errorf("--at and the post in --post-json both say publishAt; give it once")
		}
		p.PublishAt = publishAt
	}
	p.ProfileIDs = append(p.ProfileIDs, f.profiles...)
	p.Labels = append(p.Labels, f.labels...)
	p.LabelIDs = append(p.LabelIDs, f.labelIDs...)
	for _, nt := range f.captionsFor {
		net, text, ok := strings.Cut(nt, "=")
		if !ok || net == "" {
			return nil, fmt.Errorf("--caption-for %q: want NET=TEXT, e.g. instagram=Hello", nt)
		}
		p.Captions = append(p.Captions, tasks.CaptionFor{Net: strings.TrimSpace(net), Text: text})
	}
	for _, u := range f.links {
		p.Links = append(p.Links, tasks.LinkSpec{URL: u})
	}
	if f.tiktokBranded || f.tiktokAI {
		if p.TikTok == nil {
			p.TikTok = &swonkie.TikTokOptions{}
		}
		yes := true
		if f.tiktokBranded {
			p.TikTok.IsBrandedContent = &yes
		}
		if f.tiktokAI {
			p.TikTok.IsAiGenerated = &yes
		}
	}
	return p, nil
}

// readPostJSON reads a post object as the request schema has it, as
// strictly as a request: an unknown field is named by its path.
func readPostJSON(path string) (*tasks.PostSpec, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--post-json: %w", err)
	}
	if b = bytes.TrimSpace(b); len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return nil, fmt.Errorf("--post-json %s: not one JSON object", path)
	}
	req, err := tasks.DecodeRequestBytes(append(append([]byte(`{"post":`), b...), '}'))
	if err != nil {
		return nil, fmt.Errorf("--post-json %s: %w", path, err)
	}
	if req.Post == nil {
		return nil, fmt.Errorf("--post-json %s: the file holds no post object", path)
	}
	return req.Post, nil
}

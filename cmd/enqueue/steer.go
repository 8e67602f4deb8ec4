package main

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

// editFlags are the flags of edit and replay: what an edit can change.
type editFlags struct {
	caption, firstComment, at, action string
	profiles, labels, labelIDs        []string
	clearLabels                       bool
}

func (f *editFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.caption, "caption", "", "the new caption (`TEXT`)")
	fl.StringVar(&f.firstComment, "first-comment", "", "the new first comment (`TEXT`)")
	fl.StringVar(&f.at, "at", "", "the new publishAt (RFC 3339 `TIME`); the post is scheduled again for it")
	fl.StringVar(&f.action, "action", "", "the new `ACTION`: schedule, publishNow, draft or review")
	fl.StringArrayVar(&f.profiles, "profile", nil, "the post's profiles instead of the ones it has (`ID`, repeatable)")
	fl.StringArrayVar(&f.labels, "label", nil, "the post's labels by name instead of the ones it has (`NAME`, repeatable)")
	fl.StringArrayVar(&f.labelIDs, "label-id", nil, "the post's label ids instead of the ones it has (`ID`, repeatable)")
	fl.BoolVar(&f.clearLabels, "no-labels", false, "take every label off the post")
}

// edit is the change the flags given ask for.
func (f *editFlags) edit(cmd *cobra.Command) (tasks.Edit, error) {
	var e tasks.Edit
	p := &tasks.PostEdit{}
	changed := cmd.Flags().Changed
	if changed("caption") {
		p.Caption = &f.caption
	}
	if changed("first-comment") {
		p.FirstComment = &f.firstComment
	}
	if f.at != "" {
		t, err := time.Parse(time.RFC3339, f.at)
		if err != nil {
			return e, fmt.Errorf("--at %q is not an RFC 3339 time (e.g. 2026-06-01T09:00:00+01:00)", f.at)
		}
		p.PublishAt = &t
		if f.action == "" {
			f.action = string(tasks.ActionSchedule)
		}
	}
	p.ProfileIDs = f.profiles
	p.Labels, p.LabelIDs = f.labels, f.labelIDs
	if f.clearLabels {
		p.Labels, p.LabelIDs = []string{}, []string{}
	}
	e.Action = tasks.Action(f.action)
	if p.Caption != nil || p.FirstComment != nil || p.PublishAt != nil || p.ProfileIDs != nil || p.Labels != nil || p.LabelIDs != nil {
		e.Post = p
	}
	return e, nil
}

// whoAmI names the person in the pipeline's history.
func whoAmI() string {
	name := "someone"
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	if host != "" {
		name += "@" + host
	}
	return "enqueue (" + name + ")"
}

func (e *env) editCommand() *cobra.Command {
	var f editFlags
	cmd := &cobra.Command{
		Use:   "edit ID [--caption TEXT] [--at TIME] …",
		Short: "Change or reschedule a pipeline whose post is not published",
		Long: `edit changes the caption, first comment, profiles, labels, publishAt or
action of a pipeline whose post is not published, before or after the post
exists. Only the flags given change. The worker puts the change on the post
(a scheduled post is unscheduled, updated and scheduled again); the history
says who changed what. Exit 1 when it cannot be applied now: a step is
acting on the post (try again), the post is out, or the pipeline ended.`,
		Example: "  enqueue edit 0193a5e2-7b7c-7cc4-9f43-2f4b5d2c8e11 --caption 'Sale starts Monday' --at 2026-06-01T09:00:00+01:00",
		Args:    args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ed, err := f.edit(cmd)
			if err != nil {
				fmt.Fprintln(e.stderr, "enqueue edit:", err)
				return exit(exitUsage)
			}
			if ed.Empty() {
				fmt.Fprintln(e.stderr, "enqueue edit: nothing to change; give --caption, --at, --profile, … (see 'enqueue edit --help')")
				return exit(exitUsage)
			}
			cl, closeFn, err := e.connect("edit")
			if err != nil {
				return err
			}
			defer closeFn()
			rec, err := cl.Edit(e.ctx, a[0], ed, whoAmI())
			if err != nil && rec == nil {
				return e.steerFail("edit", err)
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "enqueue edit: recorded, queued late (%v); the next sweep hands it on\n", err)
			}
			fmt.Fprintf(e.stdout, "edit of pipeline %s recorded; the worker puts it on the post; follow it with: enqueue follow %s\n", rec.ID, rec.ID)
			return nil
		},
	}
	f.add(cmd)
	return cmd
}

func (e *env) replayCommand() *cobra.Command {
	var f editFlags
	var wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "replay ID [--profile ID …]",
		Short: "Run a failed or cancelled pipeline again, without a second post",
		Long: `replay runs a failed or cancelled pipeline again under the same id and
key, with the changes its flags give first (the flags of edit). Media still
ready are used again; a post an earlier attempt made, or may have made, is
adopted rather than made twice. Exit 1 when the pipeline is running or
succeeded, or its cleanup still runs.`,
		Example: "  enqueue replay 0193a5e2-7b7c-7cc4-9f43-2f4b5d2c8e11 --profile UHJvZmlsZUlk… --wait",
		Args:    args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			ed, err := f.edit(cmd)
			if err != nil {
				fmt.Fprintln(e.stderr, "enqueue replay:", err)
				return exit(exitUsage)
			}
			cl, closeFn, err := e.connect("replay")
			if err != nil {
				return err
			}
			defer closeFn()
			rec, err := cl.Replay(e.ctx, a[0], ed, whoAmI())
			if err != nil && rec == nil {
				return e.steerFail("replay", err)
			}
			if err != nil {
				fmt.Fprintf(e.stderr, "enqueue replay: recorded, queued late (%v); the next sweep hands it on\n", err)
			}
			fmt.Fprintf(e.stdout, "pipeline %s replayed (attempt %d)\n", rec.ID, rec.Replays+1)
			if !wait {
				return nil
			}
			return exit(e.follow(cl, "replay", rec.ID, timeout))
		},
	}
	f.add(cmd)
	cmd.Flags().BoolVar(&wait, "wait", false, "follow the new attempt to its end (exit 0 only if it succeeds)")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "with --wait, stop following after this long (`DURATION`; exit 124)")
	return cmd
}

// steerFail is fail for edit and replay, whose refusals are the
// pipeline's state, not the person's input.
func (e *env) steerFail(cmd string, err error) error {
	switch {
	case errors.Is(err, tasks.ErrBusy), errors.Is(err, tasks.ErrNotReplayable):
		fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
		return exit(exitFailed)
	}
	return e.fail(cmd, err)
}

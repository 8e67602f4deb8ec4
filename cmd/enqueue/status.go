package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

func (e *env) statusCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status ID",
		Short: "Show where a pipeline is: state, step, media, post, error, next retry",
		Long: `status prints a pipeline in a few lines: its state and step, each media
item, the post and what each profile reported, the last error in full, the
tasks it waits on (with the next retry) and its history. --json prints the
whole record instead (the same JSON as GET /v1/pipelines/{id}).`,
		Example: "  enqueue status 0193a5e2-7b7c-7cc4-9f43-2f4b5d2c8e11\n  enqueue status 0193a5e2-7b7c-7cc4-9f43-2f4b5d2c8e11 --json | jq .state",
		Args:    args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, closeFn, err := e.connect("status")
			if err != nil {
				return err
			}
			defer closeFn()
			rec, err := cl.Get(e.ctx, a[0])
			if err != nil {
				return e.fail("status", err)
			}
			if asJSON {
				return e.printJSON(rec)
			}
			var runs []tasks.TaskRun
			if !over(rec) {
				// Best effort: the summary stands without the queue's view.
				runs, _ = cl.NextRuns(e.ctx, rec.ID)
			}
			writeStatus(e.stdout, rec, runs, time.Now())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the whole record as JSON")
	return cmd
}

// writeStatus is the readable summary of a pipeline: what a person asks
// first (is it done, where is it stuck, why, when does it try again), then
// the history that led there.
func writeStatus(w io.Writer, r *tasks.Record, runs []tasks.TaskRun, now time.Time) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	line := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	line("pipeline", "%s", r.ID)
	if r.Key != "" {
		line("key", "%s", r.Key)
	}
	state := fmt.Sprintf("%s, step %s", r.State, r.Step)
	if r.CancelRequested && !r.State.Terminal() {
		state += " (cancel requested)"
	}
	line("state", "%s", state)
	times := "created " + stamp(r.CreatedAt) + ", updated " + stamp(r.UpdatedAt)
	if r.FinishedAt != nil {
		times += ", finished " + stamp(*r.FinishedAt) + " (took " + r.FinishedAt.Sub(r.CreatedAt).Round(time.Second).String() + ")"
	}
	line("time", "%s", times)
	line("action", "%s", actionWords(r))
	for i, m := range r.Media {
		desc := string(m.Status)
		if m.MediaID != "" {
			desc += ", media " + m.MediaID
		}
		if m.Bytes > 0 {
			desc += fmt.Sprintf(", %d bytes", m.Bytes)
		}
		switch {
		case m.Deleted:
			desc += ", deleted"
		case m.LeftBehind:
			desc += ", left behind"
		}
		line(fmt.Sprintf("media %d", i), "%s  %s", m.Source, desc)
	}
	switch {
	case r.PostID != "":
		post := r.PostID + " " + r.PostSummary()
		if r.PostStage != "" {
			post += " (Swonkie stage " + r.PostStage + ")"
		}
		line("post", "%s", post)
	case r.Request.PostID != "":
		line("post", "%s (the caller's; media not attached yet)", r.Request.PostID)
	default:
		line("post", "not made yet")
	}
	for _, p := range profileLines(r) {
		line("", "%s", p)
	}
	if se := r.LastError(); se != nil {
		kind := "retrying"
		if r.State == tasks.StateFailed {
			kind = "failed"
		}
		detail := string(se.Step)
		if se.Status != 0 {
			detail += fmt.Sprintf(", HTTP %d", se.Status)
		}
		if se.Permanent {
			detail += ", permanent"
		}
		line("error", "%s (%s, %s): %s", kind, detail, stamp(se.At), se.Message)
	}
	for _, run := range runs {
		desc := run.State
		if run.NextAt != nil {
			desc += ", next run " + stamp(*run.NextAt)
			if d := run.NextAt.Sub(now); d > 0 {
				desc += " (in " + d.Round(time.Second).String() + ")"
			}
		}
		if run.Retried > 0 {
			desc += fmt.Sprintf(", retried %d times", run.Retried)
		}
		line("next", "%s %s", run.Type, desc)
	}
	if c := r.CleanupSummary(); c != "" {
		line("cleanup", "%s", c)
	}
	if r.Webhook != nil {
		line("webhook", "%s", r.Webhook.State)
	}
	if r.TraceID != "" {
		line("trace", "%s", r.TraceID)
	}
	_ = tw.Flush()
	if len(r.History) == 0 {
		return
	}
	fmt.Fprintln(w, "history:")
	hw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	var prev time.Time
	for _, ev := range r.History {
		gap := ""
		if !prev.IsZero() {
			gap = "+" + ev.At.Sub(prev).Round(time.Millisecond).String()
		}
		prev = ev.At
		step := string(ev.Step)
		if ev.Item != nil {
			step += fmt.Sprintf("[%d]", *ev.Item)
		}
		fmt.Fprintf(hw, "  %s\t%s\t%s\t%s\t%s\n", ev.At.Local().Format("15:04:05.000"), gap, step, ev.Outcome, ev.Message)
	}
	_ = hw.Flush()
}

func stamp(t time.Time) string { return t.Local().Format(time.DateTime) }

// actionWords is what the request asked to happen to the post.
func actionWords(r *tasks.Record) string {
	a := string(r.Request.Action)
	if a == "" {
		a = string(tasks.ActionDraft)
	}
	if p := r.Request.Post; p != nil && p.PublishAt != nil {
		a += " at " + stamp(*p.PublishAt)
	}
	return a
}

// profileLines is the post per profile: what each reported once
// publishing ended, else that it waits.
func profileLines(r *tasks.Record) []string {
	reported := map[string]tasks.ProfileResult{}
	for _, p := range r.Publication {
		reported[p.ProfileID] = p
	}
	var ids []string
	if r.Request.Post != nil {
		ids = r.Request.Post.ProfileIDs
	}
	for _, p := range r.Publication {
		if !contains(ids, p.ProfileID) {
			ids = append(ids, p.ProfileID)
		}
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		p, ok := reported[id]
		switch {
		case ok && p.Network != "":
			out = append(out, fmt.Sprintf("profile %s (%s): %s", id, p.Network, strings.ToLower(p.PublishStatus)))
		case ok:
			out = append(out, fmt.Sprintf("profile %s: %s", id, strings.ToLower(p.PublishStatus)))
		default:
			out = append(out, fmt.Sprintf("profile %s: not reported yet", id))
		}
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

func (e *env) listCommand() *cobra.Command {
	var state, cursor, workspace string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--state STATE]",
		Short: "List pipelines, newest first",
		Long: `list shows a page of pipelines, newest first. ERROR is why a failed
pipeline failed, or the failure a running one is retrying; a retry that a
pipeline recovered from is in its history (enqueue status), not here.`,
		Example: "  enqueue list --state failed --limit 50",
		Args:    args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, closeFn, err := e.connect("list")
			if err != nil {
				return err
			}
			defer closeFn()
			page, err := cl.List(e.ctx, tasks.ListOptions{State: tasks.State(state), Workspace: workspace, Limit: limit, Cursor: cursor})
			if err != nil {
				return e.fail("list", err)
			}
			if asJSON {
				return e.printJSON(page)
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tWORKSPACE\tSTATE\tSTEP\tMEDIA\tPOST\tUPDATED\tLAST ERROR")
			for _, r := range page.Records {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, tasks.WorkspaceOf(r), r.State, r.Step, len(r.Media), r.PostID,
					r.UpdatedAt.Local().Format(time.DateTime), lastErrorCell(r))
			}
			_ = tw.Flush()
			if page.Next != "" {
				fmt.Fprintf(e.stderr, "more: enqueue list --cursor %s\n", page.Next)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&state, "state", "", "only pipelines in this state: pending, running, succeeded, failed or cancelled")
	fl.StringVar(&workspace, "workspace", "", "only pipelines of this workspace (`NAME`)")
	fl.IntVar(&limit, "limit", 20, "how many (at most 100)")
	fl.StringVar(&cursor, "cursor", "", "continue after a previous page (its last line says how)")
	fl.BoolVar(&asJSON, "json", false, "print the page as JSON")
	return cmd
}

// lastErrorCell is the LAST ERROR column: Record.LastError, so a
// succeeded pipeline never shows the 429 it recovered from.
func lastErrorCell(r *tasks.Record) string {
	se := r.LastError()
	if se == nil {
		return ""
	}
	msg := errorWords(se)
	if rs := []rune(msg); len(rs) > 60 {
		msg = string(rs[:60]) + "…"
	}
	return msg
}

func (e *env) cancelCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Stop a pipeline whose post is not published yet",
		Args:  args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, closeFn, err := e.connect("cancel")
			if err != nil {
				return err
			}
			defer closeFn()
			rec, err := cl.Cancel(e.ctx, a[0])
			if err != nil {
				return e.fail("cancel", err)
			}
			fmt.Fprintf(e.stdout, "cancel requested for pipeline %s (was %s, step %s); %s\n", rec.ID, rec.State, rec.Step, undoWords(rec))
			return nil
		},
	}
}

func (e *env) printJSON(v any) error {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(e.stderr, "enqueue:", err)
		return exit(exitRuntime)
	}
	return nil
}

// undoWords says what a cancel undoes, from what the pipeline made so far:
// a pipeline with no post has none to withdraw.
func undoWords(r *tasks.Record) string {
	media := 0
	for _, m := range r.Media {
		if m.MediaID != "" && !m.Deleted {
			media++
		}
	}
	var parts []string
	switch {
	case r.PostID != "" && r.PostCreated:
		parts = append(parts, "its post "+r.PostID+" will be withdrawn")
	case r.PostID != "":
		parts = append(parts, "its media will be taken off post "+r.PostID)
	}
	if media > 0 {
		parts = append(parts, fmt.Sprintf("its %d media deleted", media))
	}
	if len(parts) == 0 {
		return "nothing was made on Swonkie yet, so nothing is left to undo"
	}
	return strings.Join(parts, " and ") + "; follow it with: enqueue follow " + r.ID
}

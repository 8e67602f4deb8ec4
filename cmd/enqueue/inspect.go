package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

func runStatus(e *env, args []string) int {
	var c common
	fs := e.flags("status", &c)
	if code, ok := e.parse(fs, args, 1); !ok {
		return code
	}
	cl, closeFn, err := e.client(&c)
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue status:", err)
		return exitRuntime
	}
	defer closeFn()
	rec, err := cl.Get(e.ctx, fs.Arg(0))
	if err != nil {
		return e.fail("status", err)
	}
	return e.printJSON(rec)
}

func runList(e *env, args []string) int {
	var c common
	fs := e.flags("list", &c)
	state := fs.String("state", "", "only pipelines in this state")
	limit := fs.Int("limit", 20, "how many (at most 100)")
	cursor := fs.String("cursor", "", "continue after a previous page (its last line says how)")
	asJSON := fs.Bool("json", false, "print the page as JSON")
	if code, ok := e.parse(fs, args, 0); !ok {
		return code
	}
	cl, closeFn, err := e.client(&c)
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue list:", err)
		return exitRuntime
	}
	defer closeFn()
	page, err := cl.List(e.ctx, tasks.ListOptions{State: tasks.State(*state), Limit: *limit, Cursor: *cursor})
	if err != nil {
		return e.fail("list", err)
	}
	if *asJSON {
		return e.printJSON(page)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tSTEP\tMEDIA\tPOST\tUPDATED\tERROR")
	for _, r := range page.Records {
		errMsg := ""
		if r.Error != nil {
			errMsg = r.Error.Message
			if len(errMsg) > 60 {
				errMsg = errMsg[:60] + "…"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.ID, r.State, r.Step, len(r.Media), r.PostID,
			r.UpdatedAt.Local().Format(time.DateTime), errMsg)
	}
	_ = tw.Flush()
	if page.Next != "" {
		fmt.Fprintf(e.stderr, "more: enqueue list --cursor %s\n", page.Next)
	}
	return exitOK
}

func runCancel(e *env, args []string) int {
	var c common
	fs := e.flags("cancel", &c)
	if code, ok := e.parse(fs, args, 1); !ok {
		return code
	}
	cl, closeFn, err := e.client(&c)
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue cancel:", err)
		return exitRuntime
	}
	defer closeFn()
	rec, err := cl.Cancel(e.ctx, fs.Arg(0))
	if err != nil {
		return e.fail("cancel", err)
	}
	fmt.Fprintf(e.stdout, "cancel requested for pipeline %s (was %s, step %s); its post is withdrawn and its media deleted\n", rec.ID, rec.State, rec.Step)
	return exitOK
}

func runSweeps(e *env, args []string) int {
	var c common
	fs := e.flags("sweeps", &c)
	if code, ok := e.parse(fs, args, 0); !ok {
		return code
	}
	cl, closeFn, err := e.client(&c)
	if err != nil {
		fmt.Fprintln(e.stderr, "enqueue sweeps:", err)
		return exitRuntime
	}
	defer closeFn()
	sweeps, err := cl.Sweeps(e.ctx)
	if err != nil {
		return e.fail("sweeps", err)
	}
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STARTED\tWORKER\tTOOK\tKICKED\tSTUCK FAILED\tCLEANUPS RETRIED\tDELETED (RETENTION)\tERROR")
	for _, s := range sweeps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", s.StartedAt.Local().Format(time.DateTime), s.Holder, s.Duration,
			s.Kicked, s.StuckFailed, s.CleanupRetried, s.RetentionDeleted, s.Error)
	}
	_ = tw.Flush()
	return exitOK
}

func (e *env) printJSON(v any) int {
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintln(e.stderr, "enqueue:", err)
		return exitRuntime
	}
	return exitOK
}

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/mediaflow/mediaflow/tasks"
)

func (e *env) bulkCommand() *cobra.Command {
	var req tasks.BulkRequest
	var states []string
	var at, createdFrom, createdTo, publishFrom, publishTo string
	cmd := &cobra.Command{
		Use:   "bulk ACTION [--state S …] [--key-prefix P] [--label L] [--profile ID] …",
		Short: "Cancel, replay, reschedule or redeliver every pipeline a filter matches",
		Long: `bulk runs one action on every pipeline the filter flags match (every flag
given must match; at most 10,000): cancel, replay, reschedule (--shift a
duration or --at a time) or redeliver (the webhook). It runs here, in rounds
of 100 records, with a progress bar on a terminal, then prints the
operation as JSON: matched, done, skipped (by reason), failed. --dry-run
only counts. Exit 0 when nothing failed, 1 when some pipeline failed, 2 on
bad input. Over HTTP: POST /v1/pipelines/bulk.`,
		Example: "  enqueue bulk reschedule --state running --label 'Summer 2030' --shift 2h\n" +
			"  enqueue bulk cancel --key-prefix spring- --dry-run",
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			req.Action = tasks.BulkAction(a[0])
			for _, s := range states {
				req.Filter.States = append(req.Filter.States, tasks.State(s))
			}
			for _, t := range []struct {
				flag, value string
				into        **time.Time
			}{{"at", at, &req.At}, {"created-from", createdFrom, &req.Filter.CreatedFrom}, {"created-to", createdTo, &req.Filter.CreatedTo},
				{"publish-at-from", publishFrom, &req.Filter.PublishAtFrom}, {"publish-at-to", publishTo, &req.Filter.PublishAtTo}} {
				if t.value == "" {
					continue
				}
				v, err := time.Parse(time.RFC3339, t.value)
				if err != nil {
					fmt.Fprintf(e.stderr, "enqueue bulk: --%s %q: not an RFC 3339 time\n", t.flag, t.value)
					return exit(exitUsage)
				}
				*t.into = &v
			}
			cl, closeFn, err := e.connect("bulk")
			if err != nil {
				return err
			}
			defer closeFn()
			bar := e.bulkBar()
			op, err := cl.RunBulk(e.ctx, req, whoAmI(), func(op tasks.Operation) {
				bar.ChangeMax(max(op.Matched, 1))
				_ = bar.Set(op.Done + op.Failed + skipped(op))
			})
			_ = bar.Finish()
			if op == nil || err != nil && op.Matched == 0 {
				return e.fail("bulk", err)
			}
			b, _ := json.MarshalIndent(op, "", "  ")
			fmt.Fprintln(e.stdout, string(b))
			fmt.Fprintf(e.stderr, "enqueue bulk %s: %d matched, %d done, %d skipped, %d failed\n", req.Action, op.Matched, op.Done, skipped(*op), op.Failed)
			switch {
			case err != nil:
				return e.fail("bulk", err)
			case op.Failed > 0:
				return exit(exitFailed)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&states, "state", nil, "match these states (repeat, or comma-separated)")
	fl.StringVar(&req.Filter.KeyPrefix, "key-prefix", "", "match keys starting with this")
	fl.StringVar(&req.Filter.Label, "label", "", "match this label (name or id)")
	fl.StringVar(&req.Filter.Profile, "profile", "", "match posts to this profile id")
	fl.StringVar(&req.Filter.Workspace, "workspace", "", "match this workspace's pipelines")
	fl.StringVar(&createdFrom, "created-from", "", "match pipelines created at or after this `TIME` (RFC 3339)")
	fl.StringVar(&createdTo, "created-to", "", "match pipelines created before this `TIME`")
	fl.StringVar(&publishFrom, "publish-at-from", "", "match posts whose publishAt is at or after this `TIME`")
	fl.StringVar(&publishTo, "publish-at-to", "", "match posts whose publishAt is before this `TIME`")
	fl.StringVar(&req.Shift, "shift", "", "reschedule: move each publishAt by this `DURATION` (2h, -30m)")
	fl.StringVar(&at, "at", "", "reschedule: set each publishAt to this `TIME`")
	fl.BoolVar(&req.DryRun, "dry-run", false, "only count the pipelines the filter matches")
	return cmd
}

func skipped(op tasks.Operation) int {
	n := 0
	for _, c := range op.Skipped {
		n += c
	}
	return n
}

// bulkBar counts pipelines on a terminal and stays silent otherwise.
func (e *env) bulkBar() *progressbar.ProgressBar {
	f, ok := e.stderr.(*os.File)
	return progressbar.NewOptions(1,
		progressbar.OptionSetWriter(e.stderr),
		progressbar.OptionSetDescription("pipelines"),
		progressbar.OptionSetVisibility(ok && term.IsTerminal(int(f.Fd()))),
		progressbar.OptionClearOnFinish(),
	)
}

package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

func (e *env) sweepsCommand() *cobra.Command {
	var schedule string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "sweeps",
		Short: "Show the sweep schedule and what the last sweeps did",
		Long: `sweeps shows when the cleanup sweep runs and what its last runs did.

The workers run the sweep on SWEEP_SCHEDULE (default "` + tasks.DefaultSweepSchedule + `"): slots are
aligned to the clock, and however many workers run, one of them sweeps each
slot. The workers schedule it themselves, not through asynq's scheduler, so
'asynq cron ls' and asynqmon's Schedulers page do not list it; its tasks
(cleanup:sweep) show in the mediaflow-cleanup queue. --schedule (env
SWEEP_SCHEDULE) only tells this command which schedule to show: give the
workers' value.`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("schedule") {
				if v := e.getenv("SWEEP_SCHEDULE"); v != "" {
					schedule = v
				}
			}
			cl, closeFn, err := e.connect("sweeps")
			if err != nil {
				return err
			}
			defer closeFn()
			sweeps, err := cl.Sweeps(e.ctx)
			if err != nil {
				return e.fail("sweeps", err)
			}
			if asJSON {
				return e.printJSON(sweeps)
			}
			fmt.Fprintln(e.stdout, scheduleNote(schedule, time.Now()))
			if len(sweeps) == 0 {
				fmt.Fprintln(e.stdout, "no sweep has run yet")
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STARTED\tSLOT\tWORKER\tTOOK\tREFRESHED\tKICKED\tSTUCK FAILED\tREINDEXED\tCLEANUPS RETRIED\tWEBHOOKS RETRIED\tDELETED (RETENTION)\tMIGRATED\tERROR")
			for _, s := range sweeps {
				deleted := fmt.Sprint(s.RetentionDeleted)
				if s.RetentionLeft {
					deleted += " (more due)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%d\t%s\n",
					s.StartedAt.Local().Format(time.DateTime), s.Slot, s.Holder, s.Duration, s.Refreshed, s.Kicked, s.StuckFailed,
					s.Reindexed, s.CleanupRetried, s.WebhookRetried, deleted, s.Migrated, s.Error)
			}
			_ = tw.Flush()
			return nil
		},
	}
	cmd.Flags().StringVar(&schedule, "schedule", tasks.DefaultSweepSchedule, "the workers' SWEEP_SCHEDULE, to show the next slot (env SWEEP_SCHEDULE)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the last results as JSON")
	return cmd
}

// scheduleNote is the line above the results: the schedule and its next
// slot after now.
func scheduleNote(spec string, now time.Time) string {
	if spec == "off" {
		return `schedule: off (SWEEP_SCHEDULE=off: no worker sweeps)`
	}
	s, err := tasks.ParseSweepSchedule(spec)
	if err != nil {
		return fmt.Sprintf("schedule: %q is not a schedule the workers take (%v)", spec, err)
	}
	return fmt.Sprintf("schedule: %s, one worker per slot; next slot %s", spec, s.Next(now).Local().Format(time.DateTime))
}

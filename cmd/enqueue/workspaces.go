package main

import (
	"errors"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

// workspacesCommand lists the workspaces the fleet serves and why any is
// paused.
func (e *env) workspacesCommand() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "workspaces",
		Short: "List the workspaces the workers publish for, and which are paused and why",
		Long: `workspaces lists the Swonkie workspaces the workers publish for (their
workspaces file's, or "default"), each with its pause.

A workspace is paused when Swonkie refuses its credentials (401, or 403 on a
call that needs only the key), or by hand ('enqueue workspace pause NAME').
Its pipelines wait: none fails, none spends a retry. Fix the key and send the
workers SIGHUP to reload the workspaces file, and they go on by themselves.`,
		Args: args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cl, closeFn, err := e.connect("workspaces")
			if err != nil {
				return err
			}
			defer closeFn()
			all, err := cl.WorkspaceStatuses(e.ctx)
			if err != nil {
				return e.fail("workspaces", err)
			}
			if asJSON {
				return e.printJSON(all)
			}
			e.printWorkspaces(all)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the workspaces as JSON")
	return cmd
}

func (e *env) printWorkspaces(all []tasks.WorkspaceStatus) {
	tw := tabwriter.NewWriter(e.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKSPACE\tSTATE\tSINCE\tWHY")
	for _, ws := range all {
		state, since := "active", ""
		if ws.Paused {
			state = "paused"
			if ws.ByHand {
				state = "paused by hand"
			}
			if ws.PausedAt != nil {
				since = ws.PausedAt.Local().Format(time.DateTime)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ws.Name, state, since, ws.Why)
	}
	_ = tw.Flush()
}

// workspaceCommand pauses and resumes a workspace by hand.
func (e *env) workspaceCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workspace",
		Short: "Pause or resume a workspace by hand",
		Args:  args(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(e.stderr, "usage: enqueue workspace pause|resume NAME (see 'enqueue workspace --help')")
			return exit(exitUsage)
		},
	}
	var why string
	pause := &cobra.Command{
		Use:   "pause NAME",
		Short: "Pause a workspace: its pipelines wait until it is resumed",
		Long: `pause pauses the workspace for every worker: its pipelines wait (none
fails, none spends a retry) until 'enqueue workspace resume NAME'. A reload of
the workspaces file does not end a pause by hand.`,
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.steerWorkspace("workspace pause", func(cl *tasks.Client) (*tasks.WorkspaceStatus, error) {
				return cl.PauseWorkspace(e.ctx, a[0], why)
			})
		},
	}
	pause.Flags().StringVar(&why, "why", "", "the reason `enqueue workspaces` shows")
	resume := &cobra.Command{
		Use:   "resume NAME",
		Short: "Resume a paused workspace: its pipelines go on within seconds",
		Long: `resume ends the workspace's pause, by hand or for refused credentials: its
pipelines go on within seconds. A key Swonkie still refuses pauses it again.`,
		Args: args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			return e.steerWorkspace("workspace resume", func(cl *tasks.Client) (*tasks.WorkspaceStatus, error) {
				return cl.ResumeWorkspace(e.ctx, a[0])
			})
		},
	}
	cmd.AddCommand(pause, resume)
	return cmd
}

func (e *env) steerWorkspace(name string, do func(*tasks.Client) (*tasks.WorkspaceStatus, error)) error {
	cl, closeFn, err := e.connect(name)
	if err != nil {
		return err
	}
	defer closeFn()
	st, err := do(cl)
	if errors.Is(err, tasks.ErrUnknownWorkspace) {
		fmt.Fprintf(e.stderr, "enqueue %s: %v\n", name, err)
		return exit(exitFailed)
	}
	if err != nil {
		return e.fail(name, err)
	}
	e.printWorkspaces([]tasks.WorkspaceStatus{*st})
	return nil
}

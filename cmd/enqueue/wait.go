package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/tasks"
)

func (e *env) followCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "follow ID",
		Short: "Show a pipeline's steps live until it is over",
		Long: `follow prints a line on stderr each time the pipeline moves (the lines
publish --wait prints) until it is over, cleanup included, then how it ended.
Exit 0 when it succeeded, 1 when it failed or was cancelled, 124 when
--timeout ran out first, 130 when interrupted; the pipeline goes on either way.`,
		Example: "  enqueue follow 0193a5e2-7b7c-7cc4-9f43-2f4b5d2c8e11 --timeout 10m",
		Args:    args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, closeFn, err := e.connect("follow")
			if err != nil {
				return err
			}
			defer closeFn()
			return exit(e.follow(cl, "follow", a[0], timeout))
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop following after this long (`DURATION`, e.g. 10m; exit 124; 0 waits for the end)")
	return cmd
}

func (e *env) waitCommand() *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "wait ID...",
		Short: "Wait until pipelines are over; the exit code says how they ended",
		Long: `wait blocks until every pipeline named is over (cleanup included) and
prints one line for each as it ends. Exit 0 when all succeeded, 1 when any
failed, was cancelled or is unknown, 124 when --timeout ran out first (the
pipelines go on), 130 when interrupted.`,
		Example: "  enqueue wait $(enqueue batch week.jsonl) --timeout 1h && echo all published",
		Args: func(cmd *cobra.Command, a []string) error {
			if len(a) == 0 {
				return fmt.Errorf("%s: want at least one pipeline id", cmd.CommandPath())
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, closeFn, err := e.connect("wait")
			if err != nil {
				return err
			}
			defer closeFn()
			return exit(e.wait(cl, a, timeout))
		},
	}
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop waiting after this long (`DURATION`, e.g. 1h; exit 124; 0 waits for the end)")
	return cmd
}

// wait polls every pipeline of ids until each is over, saying how each
// ended as it does. A pipeline that does not exist counts as failed.
func (e *env) wait(cl *tasks.Client, ids []string, timeout time.Duration) int {
	ctx := e.ctx
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	pending := map[string]bool{}
	for _, id := range ids {
		pending[id] = true
	}
	result := exitOK
	for {
		for _, id := range ids {
			if !pending[id] {
				continue
			}
			rec, err := cl.Get(ctx, id)
			switch {
			case tasks.IsNotFound(err):
				fmt.Fprintf(e.stderr, "enqueue wait: %v\n", err)
				delete(pending, id)
				result = exitFailed
			case err != nil && ctx.Err() == nil:
				return code(e.fail("wait", err))
			case err == nil && over(rec):
				delete(pending, id)
				if e.ended(rec) != exitOK {
					result = exitFailed
				}
			}
		}
		if len(pending) == 0 {
			return result
		}
		select {
		case <-ctx.Done():
		case <-time.After(pollEvery):
			continue
		}
		if e.ctx.Err() != nil {
			fmt.Fprintf(e.stderr, "enqueue wait: interrupted; %d pipeline(s) go on without this command\n", len(pending))
			return exitInterrupted
		}
		fmt.Fprintf(e.stderr, "enqueue wait: %d of %d pipeline(s) still not over after --timeout %s; they go on\n", len(pending), len(ids), timeout)
		for _, id := range ids {
			if pending[id] {
				fmt.Fprintf(e.stderr, "  %s\n", id)
			}
		}
		return exitTimeout
	}
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func (e *env) redeliverCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "redeliver ID",
		Short: "Send a pipeline's last webhook event again (same webhook-id)",
		Long: `redeliver queues the pipeline's latest webhook event for delivery again,
under the same webhook-id, so a receiver that already has it drops the copy.
It answers at once; follow the delivery with 'enqueue status ID' (its
webhook field). Exit 1 when the pipeline is unknown or has no event to send.`,
		Example: "  enqueue redeliver 0193a5e2-7b7c-7cc4-9f43-2f4b5d2c8e11",
		Args:    args(1),
		RunE: func(cmd *cobra.Command, a []string) error {
			cl, closeFn, err := e.connect("redeliver")
			if err != nil {
				return err
			}
			defer closeFn()
			rec, err := cl.Redeliver(e.ctx, a[0])
			if err != nil && rec == nil {
				return e.fail("redeliver", err)
			}
			if err != nil {
				// Recorded, not queued: the sweep re-enqueues owed deliveries.
				fmt.Fprintf(e.stderr, "enqueue redeliver: queued late (%v); the next sweep sends it\n", err)
			}
			if rec.Webhook == nil || len(rec.Webhook.Events) == 0 {
				fmt.Fprintf(e.stdout, "redelivery for pipeline %s queued\n", rec.ID)
				return nil
			}
			last := rec.Webhook.Events[len(rec.Webhook.Events)-1]
			fmt.Fprintf(e.stdout, "redelivery of %s (webhook-id %s) for pipeline %s queued to %s\n", last.Type, last.ID, rec.ID, rec.Webhook.URL)
			return nil
		},
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/rs/zerolog"
)

// listProfiles prints the workspace's profiles: the ids a publish request
// names in post.profileIds, and whether each can publish.
func listProfiles(ctx context.Context, cfg *config, stdout, stderr io.Writer) int {
	st := &stack{}
	defer st.shutdown()
	if err := st.connectSwonkie(cfg, nil, zerolog.Nop()); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	profiles, err := st.api.ListProfiles(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "worker: list profiles:", err)
		return 1
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNETWORK\tNAME\tUSERNAME\tSTATUS")
	for _, p := range profiles {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", p.ID, p.Net.Code, p.Name, p.Username, p.StatusLevel)
	}
	_ = tw.Flush()
	return 0
}

package main

import (
	"encoding/json"
	"fmt"

	"github.com/mediaflow/mediaflow/tasks"
)

// dryRun is publish --dry-run: Client.Check's answer as JSON on stdout,
// each problem also as a line on stderr; nothing is stored or queued.
// Exit 0 when the post could publish, 2 (bad input) when not.
func (e *env) dryRun(cl *tasks.Client, req tasks.Request) error {
	res, err := cl.Check(e.ctx, req)
	if err != nil {
		return e.fail("publish --dry-run", err)
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return e.fail("publish --dry-run", err)
	}
	fmt.Fprintln(e.stdout, string(b))
	if res.Valid {
		return nil
	}
	for _, p := range res.Problems {
		line := p.Message
		if p.Source != "" {
			line += " (" + p.Source + ")"
		}
		fmt.Fprintln(e.stderr, "enqueue publish --dry-run:", line)
	}
	return exit(exitUsage)
}

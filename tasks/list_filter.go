package tasks

import (
	"context"
	"slices"
)

// maxFilteredScan bounds the records one filtered page reads: a workspace
// with few pipelines among many answers short pages with a Next rather
// than reading the whole index for one request.
const maxFilteredScan = 10 * MaxListLimit

// listFiltered is store.list, keeping only the records of the workspace
// (or workspaces) o asks for. The index is by state, not by workspace, so
// it reads on in chunks no larger than the room left on the page: the
// page never holds more than Limit, and its Next starts right after the
// last record read.
func (c *Client) listFiltered(ctx context.Context, o ListOptions) ([]*Record, string, error) {
	if o.Workspace == "" && o.In == nil {
		return c.store.list(ctx, o)
	}
	keep := func(r *Record) bool {
		ws := workspaceOf(r)
		return (o.Workspace == "" || ws == o.Workspace) && (o.In == nil || slices.Contains(o.In, ws))
	}
	var out []*Record
	cursor, scanned := o.Cursor, 0
	for len(out) < o.Limit && scanned < maxFilteredScan {
		page := o
		page.Cursor, page.Limit = cursor, o.Limit-len(out)
		recs, next, err := c.store.list(ctx, page)
		if err != nil {
			return nil, "", err
		}
		scanned += len(recs)
		for _, r := range recs {
			if keep(r) {
				out = append(out, r)
			}
		}
		cursor = next
		if next == "" || len(recs) == 0 {
			break
		}
	}
	return out, cursor, nil
}

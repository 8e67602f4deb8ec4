package main

import (
	"context"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// foreignScanLimit bounds how many records (newest first) the check reads
// at start: enough to notice a Redis reused across starts, cheap on one
// that holds a long history.
const foreignScanLimit = 1000

// warnForeignRecords says, at start, when Redis holds records whose media
// or posts another Swonkie made: an earlier start's in-process sandbox (it
// kept everything in memory, and this one starts empty) or the real API.
// Their ids are unknown here, so an unfinished one fails when it next
// looks, and none can ever touch what this sandbox makes for another
// pipeline (its ids carry its own instance part).
func warnForeignRecords(ctx context.Context, c *tasks.Client, sb *sandbox.Server, log zerolog.Logger) {
	foreign, unfinished, read := 0, 0, 0
	cursor := ""
	for read < foreignScanLimit {
		page, err := c.List(ctx, tasks.ListOptions{Limit: tasks.MaxListLimit, Cursor: cursor})
		if err != nil {
			log.Warn().Err(err).Msg("could not check for records made against another Swonkie")
			return
		}
		for _, r := range page.Records {
			if !madeHere(r, sb) {
				foreign++
				if !r.State.Terminal() || r.Cleanup == tasks.CleanupPending {
					unfinished++
				}
			}
		}
		read += len(page.Records)
		if cursor = page.Next; cursor == "" {
			break
		}
	}
	if foreign == 0 {
		return
	}
	ev := log.Warn().Int("records", foreign).Int("unfinished", unfinished).Str("sandbox_instance", sb.Instance())
	if read >= foreignScanLimit {
		ev = ev.Int("records_read", read)
	}
	ev.Msg("Redis holds pipelines made against another Swonkie sandbox instance (an earlier start of -sandbox) or the real API: " +
		"this sandbox started empty and knows none of their media or posts, so any unfinished one will fail; " +
		"to start clean, use an empty Redis database (another database number at the end of REDIS_URL, /1 to /15)")
}

// madeHere reports whether every Swonkie id r names came from sb.
func madeHere(r *tasks.Record, sb *sandbox.Server) bool {
	ids := make([]string, 0, len(r.Media)+len(r.StaleMedia)+1)
	for _, m := range r.Media {
		ids = append(ids, m.MediaID)
	}
	for _, m := range r.StaleMedia {
		ids = append(ids, m.MediaID)
	}
	ids = append(ids, r.PostID)
	for _, id := range ids {
		if id == "" {
			continue
		}
		if inst, ok := sandbox.InstanceOf(id); !ok || inst != sb.Instance() {
			return false
		}
	}
	return true
}

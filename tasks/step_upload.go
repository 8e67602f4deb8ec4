package tasks

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// upload is media:upload: create the media entry and stream the file into
// it.
//
// Creating and uploading share one task because the presigned upload URL is
// a credential: it lives only in this attempt's memory, never in a payload
// or a record. The media id, though, is written the moment it exists, so an
// attempt that dies between create and upload leaves a known entry that
// the next attempt abandons (and deletes) before creating a fresh one —
// which is also how an upload that would start after the URL's window is
// handled (design.md invariant 5).
func (p *pipeline) upload(ctx context.Context, rec *Record, pl Payload, log zerolog.Logger) error {
	i := pl.Item
	if i < 0 || i >= len(rec.Media) {
		return permanentf("upload: pipeline %s has no media item %d", rec.ID, i)
	}
	if rec.Media[i].Status.rank() >= ItemUploaded.rank() {
		return p.enqueue(ctx, TypeMediaConfirm, Payload{PipelineID: rec.ID, Item: i, Generation: rec.Media[i].Generation})
	}
	if rec.Media[i].MediaID != "" {
		// An earlier attempt created this entry and lost its upload URL.
		// That attempt failed and was counted against the retry budget, so
		// the generation cap does not apply here.
		if _, err := p.abandon(ctx, rec, i, "upload did not finish in the attempt that created it", log); err != nil {
			return err
		}
	}

	req := rec.Request.Media[i]
	src, err := p.sources.Open(ctx, req.Source, source.Hint{Name: req.Name, ContentType: req.ContentType})
	if err != nil {
		return wrap(err, "upload media item %d: open source", i)
	}
	defer src.Close()
	if !source.Supported(src.ContentType) {
		return permanentf("upload media item %d: %s is %s, not an image or video type Swonkie publishes",
			i, RedactSource(req.Source), src.ContentType)
	}

	created, err := p.api.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: src.Name, FileSize: src.Size})
	if err != nil {
		return wrap(err, "create media for item %d", i)
	}
	createdAt := p.now().UTC()
	err = p.store.update(ctx, rec, func(r *Record) error {
		p.start(r, StepUpload)
		it := &r.Media[i]
		if it.MediaID != "" && it.MediaID != created.MediaID {
			// Another attempt at this item recorded its own entry while we
			// created ours: keep track of it rather than lose it.
			r.StaleMedia = append(r.StaleMedia, StaleMedia{MediaID: it.MediaID, Item: i, Reason: "replaced by a concurrent attempt"})
		}
		it.MediaID, it.Status, it.MediaCreatedAt = created.MediaID, ItemCreated, &createdAt
		it.Name, it.ContentType = src.Name, src.ContentType
		return nil
	})
	if err != nil {
		// We hold a media nobody else knows of; delete it rather than
		// orphan it.
		if derr := p.api.DeleteMedia(context.WithoutCancel(ctx), created.MediaID); derr == nil {
			p.obs.MediaDeleted("stale")
		} else {
			p.obs.MediaLeftBehind("unrecorded")
		}
		return wrap(err, "record media %s of item %d", created.MediaID, i)
	}
	log = log.With().Str("media_id", created.MediaID).Int("item", i).Logger()
	if rec.State.Terminal() || rec.CancelRequested {
		// The pipeline ended while we created this media; the cleanup the
		// handler enqueues deletes it.
		return nil
	}

	if late := p.now().Sub(createdAt); late > p.timing.UploadWindow-p.timing.UploadMargin {
		if _, err := p.abandon(ctx, rec, i, fmt.Sprintf("upload would start %s after create, past the upload window", late.Round(1e9)), log); err != nil {
			return err
		}
		return errRestart
	}

	counted := &countingReader{r: src}
	err = p.api.UploadMedia(ctx, created.UploadURL, counted, src.Size, src.ContentType)
	if swonkie.StatusCode(err) == http.StatusForbidden {
		// Storage refuses a URL whose window closed: start over with a
		// fresh media entry rather than fail the pipeline.
		ok, aerr := p.abandon(ctx, rec, i, "storage refused the upload URL (403): window expired", log)
		if aerr != nil {
			return aerr
		}
		if !ok {
			return permanentf("upload media %s of item %d: storage refused %d fresh upload URLs: %v", created.MediaID, i, rec.Media[i].Generation, err)
		}
		return errRestart
	}
	if err != nil {
		return wrap(err, "upload media %s of item %d", created.MediaID, i)
	}
	if counted.n != src.Size {
		return fmt.Errorf("upload media %s of item %d: source gave %d bytes, expected %d", created.MediaID, i, counted.n, src.Size)
	}

	now := p.now().UTC()
	err = p.store.update(ctx, rec, func(r *Record) error {
		it := &r.Media[i]
		if it.MediaID != created.MediaID {
			return errNoChange
		}
		it.Status, it.Bytes = ItemUploaded, counted.n
		r.progressed()
		r.note(now, StepUpload, &i, "ok", fmt.Sprintf("uploaded %d bytes to media %s", counted.n, created.MediaID))
		return nil
	})
	if err != nil {
		return wrap(err, "record upload of media %s", created.MediaID)
	}
	log.Debug().Int64("bytes", counted.n).Msg("uploaded")
	return p.enqueue(ctx, TypeMediaConfirm, Payload{PipelineID: rec.ID, Item: i, Generation: rec.Media[i].Generation})
}

// countingReader counts what the upload actually read from the source. It
// passes Close through so the client can unblock a stalled source when the
// task's context ends.
type countingReader struct {
	r io.ReadCloser
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

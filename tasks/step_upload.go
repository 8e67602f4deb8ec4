package tasks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// maxUnusable is how many create-media answers without a usable id an
// item may get before its step fails: each may have made an entry nobody
// can find again (there is no list-media endpoint), so at most
// maxUnusable+1 entries are ever made for it.
const maxUnusable = 2

// upload is media:upload: create the media entry and stream the file into
// it.
//
// Creating and uploading share one task because the presigned upload URL is
// a credential: it lives only in this run's memory, never in a payload or
// a record. The media id, though, is written the moment it exists, so a run
// that dies between create and upload leaves a known entry that the next
// run abandons (and the cleanup deletes) before creating a fresh one —
// which is also how an upload that would start after the URL's window is
// handled (docs/design.md, I5).
func (p *pipeline) upload(ctx context.Context, r *run) error {
	rec, i := r.rec, r.pl.Item
	if i < 0 || i >= len(rec.Media) {
		return permanentf("upload: pipeline %s has no media item %d", rec.ID, i)
	}
	gen := rec.Media[i].Generation
	if gen != r.pl.Generation || rec.Media[i].Status.rank() >= ItemUploaded.rank() {
		return nil // past this step, or a newer entry has its own task
	}
	if rec.Media[i].MediaID != "" {
		// An earlier run created this entry and lost its upload URL. It
		// failed and was counted against the retry budget, so the
		// generation cap does not apply here: a fresh task takes over.
		_, err := p.abandon(ctx, r, i, "upload did not finish in the run that created it")
		return err
	}
	if n := unusableCount(rec, i); n > maxUnusable {
		return permanentf("create media for item %d: Swonkie answered %d times without a usable media id; not creating more entries", i, n)
	}

	req := rec.Request.Media[i]
	src, err := p.sources.Open(ctx, req.Source, source.Hint{Name: req.Name, ContentType: req.ContentType})
	if err != nil {
		return wrap(err, "upload media item %d", i) // source.Error says "open source <src>" itself
	}
	defer src.Close()
	if !source.Supported(src.ContentType) {
		return permanentf("upload media item %d: %s is %s, not an image or video type Swonkie publishes",
			i, RedactSource(req.Source), src.ContentType)
	}

	created, err := p.api.CreateMedia(ctx, p.createRequest(ctx, r, i, src))
	if err != nil {
		p.createFailed(ctx, r, i, err)
		return wrap(err, "create media for item %d", i)
	}
	createdAt := p.now().UTC()
	host := hostTask(ctx)
	err = r.save(ctx, func(rec *Record) error {
		it := &rec.Media[i]
		if it.Generation != gen {
			// The item moved on meanwhile (a cancel, a concurrent run):
			// keep track of this entry rather than lose it.
			rec.StaleMedia = append(rec.StaleMedia, StaleMedia{MediaID: created.MediaID, Item: i, Reason: "created by an overtaken run"})
			return nil
		}
		if it.MediaID != "" && it.MediaID != created.MediaID {
			rec.StaleMedia = append(rec.StaleMedia, StaleMedia{MediaID: it.MediaID, Item: i, Reason: "replaced by a concurrent run"})
		}
		it.MediaID, it.Status, it.MediaCreatedAt = created.MediaID, ItemCreated, &createdAt
		rec.in.setUploadHost(i, host, len(rec.Media))
		it.Name, it.ContentType = src.Name, src.ContentType
		return nil
	})
	if err != nil {
		p.discardUnrecorded(ctx, r, i, created.MediaID)
		return wrap(err, "record media %s of item %d", created.MediaID, i)
	}
	log := r.log.With().Str("media_id", created.MediaID).Int("item", i).Logger()
	if rec := r.rec; rec.State.Terminal() || rec.CancelRequested || rec.Media[i].MediaID != created.MediaID {
		return nil // the pipeline ended or moved on: its cleanup deletes the entry
	}

	if late := p.now().Sub(createdAt); late > p.timing.UploadWindow-p.timing.UploadMargin {
		_, err := p.abandon(ctx, r, i, fmt.Sprintf("upload would start %s after create, past the upload window", late.Round(time.Second)))
		return err
	}

	counted := &countingReader{r: src}
	err = p.api.Upload(ctx, created, counted, src.Size, src.ContentType)
	if swonkie.StatusCode(err) == http.StatusForbidden {
		// Storage refuses a URL whose window closed: start over with a
		// fresh media entry rather than fail the pipeline.
		ok, aerr := p.abandon(ctx, r, i, "storage refused the upload URL (403): window expired")
		if aerr != nil {
			return aerr
		}
		if !ok {
			return &PermanentError{Err: fmt.Errorf("upload media %s of item %d: storage refused %d fresh upload URLs: %w",
				created.MediaID, i, r.rec.Media[i].Generation, err)}
		}
		return nil
	}
	if err == nil && counted.n != src.Size {
		err = fmt.Errorf("source gave %d bytes, expected %d", counted.n, src.Size)
	}
	if err != nil {
		if p.overtaken(ctx, r, i, created.MediaID) {
			log.Info().Err(err).Msg("upload of an entry another run took over failed; the item goes on with that run's")
			return nil
		}
		return wrap(err, "upload media %s of item %d", created.MediaID, i)
	}

	now := p.now().UTC()
	err = r.save(ctx, func(rec *Record) error {
		it := &rec.Media[i]
		if it.MediaID != created.MediaID {
			return errNoChange
		}
		it.Status, it.Bytes = ItemUploaded, counted.n
		rec.in.setUploadHost(i, "", len(rec.Media))
		rec.progressed()
		rec.note(now, StepUpload, &i, "ok", fmt.Sprintf("uploaded %d bytes to media %s", counted.n, created.MediaID))
		return nil
	})
	if err != nil {
		return wrap(err, "record upload of media %s", created.MediaID)
	}
	log.Debug().Int64("bytes", counted.n).Msg("uploaded")
	return nil
}

// overtaken reports whether item i no longer uses entry id, which this
// run created and recorded: a second run of the step abandoned it (the
// upload URL lives only in this run's memory) and its cleanup deleted it,
// so this run's upload fails with 404. That is no failure of the
// pipeline's, whose item goes on with the other run's entry. It reads the
// record again (r.rec becomes what it read); a record that cannot be read
// is not taken as moved on.
func (p *pipeline) overtaken(ctx context.Context, r *run, i int, id string) bool {
	rec, err := p.store.get(context.WithoutCancel(ctx), r.rec.ID)
	if err != nil || i >= len(rec.Media) {
		return false
	}
	r.rec = rec
	return rec.Media[i].MediaID != id
}

// createFailed writes down a create-media call that may have made an
// entry nothing names: a 2xx answer without a usable id (Unusable, which
// also bounds how many such entries an item may make) or a request sent
// whole whose answer never came (ReplyLost). observe counts each as left
// behind, from the record, or from the change as it would have been
// written when Redis refuses it: the entry exists either way.
func (p *pipeline) createFailed(ctx context.Context, r *run, i int, err error) {
	var msg string
	var count func(*internals) *[]int
	switch {
	case swonkie.IsUnusableAnswer(err):
		msg = "create media answered 2xx without a usable media id: an entry may exist that cannot be deleted"
		count = func(in *internals) *[]int { return &in.Unusable }
	case swonkie.IsReplyLost(err):
		msg = "create media was sent and its answer lost: an entry may exist that cannot be deleted"
		count = func(in *internals) *[]int { return &in.ReplyLost }
	default:
		return
	}
	now := p.now().UTC()
	fn := func(rec *Record) error {
		c := count(&rec.in)
		*c = growTo(*c, len(rec.Media))
		(*c)[i]++
		rec.note(now, StepUpload, &i, "info", msg)
		return nil
	}
	if serr := r.save(ctx, fn); serr != nil {
		r.log.Warn().Err(serr).Msg("could not write down a create that may have made an entry; counted all the same")
		p.observeUnwritten(ctx, r.rec, fn)
	}
}

// discardUnrecorded deletes a media this run created and could not write
// to the record: nobody else knows of it. Each failed try is logged; what
// became of it is counted as the stale entry it would have been.
func (p *pipeline) discardUnrecorded(ctx context.Context, r *run, i int, id string) {
	// Nobody else will delete it: the delete waits for the budget
	// rather than being put off (admission.go).
	ctx = swonkie.HoldAtMost(context.WithoutCancel(ctx), 0)
	log := r.log.With().Str("media_id", id).Int("item", i).Logger()
	err := retryUnrecorded(ctx, p.timing, func() error {
		if err := p.api.DeleteMedia(ctx, id); judgeRemoval(err) != removed {
			return err
		}
		return nil
	}, func(try int, err error) {
		if try < 0 {
			log.Warn().Err(err).Msg("could not delete a media whose id could not be written; waiting as Swonkie asks")
			return
		}
		log.Warn().Err(err).Int("try", try+1).Msg("could not delete a media whose id could not be written; trying again")
	})
	gone := err == nil
	if !gone {
		log.Error().Err(err).Msg("could not delete a media whose id could not be written; it is left behind")
	}
	p.observeUnwritten(ctx, r.rec, func(rec *Record) error {
		rec.StaleMedia = append(rec.StaleMedia, StaleMedia{MediaID: id, Item: i, Reason: unrecordedReason,
			disposal: disposal{Deleted: gone, LeftBehind: !gone}})
		return nil
	})
}

// hostTask names the asynq task a run is part of, as "queue/id": its own,
// or, run inline, the one it runs inside.
func hostTask(ctx context.Context) string {
	q, _ := asynq.GetQueueName(ctx)
	id, _ := asynq.GetTaskID(ctx)
	if q == "" || id == "" {
		return ""
	}
	return q + "/" + id
}

// setUploadHost records host as the task sending item i's file ("" once
// it is sent), and drops the list when no item has one.
func (in *internals) setUploadHost(i int, host string, items int) {
	for len(in.UploadHost) < items {
		in.UploadHost = append(in.UploadHost, "")
	}
	in.UploadHost[i] = host
	if !slices.ContainsFunc(in.UploadHost, func(h string) bool { return h != "" }) {
		in.UploadHost = nil
	}
}

func (in *internals) uploadHost(i int) string {
	if i < len(in.UploadHost) {
		return in.UploadHost[i]
	}
	return ""
}

func unusableCount(r *Record, i int) int {
	if i < len(r.in.Unusable) {
		return r.in.Unusable[i]
	}
	return 0
}

func growTo(s []int, n int) []int {
	for len(s) < n {
		s = append(s, 0)
	}
	return s
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

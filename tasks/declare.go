package tasks

import (
	"context"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
)

// createRequest is the POST /media body for item i, whose source opened
// as src: its name and fileSize, and what swonkie-api.md §3.2 asks to be
// declared and to agree with the file — the displayed width and height,
// and a video's duration.
//
// The values come from pre-flight's probe when it saw a file of this
// size; otherwise (pre-flight off, a record from before it, a source that
// changed since) the source is probed here, by range requests. A probe
// that fails declares the size alone: declaring nothing is what the docs
// allow, declaring a guess is what the sandbox refuses.
func (p *pipeline) createRequest(ctx context.Context, r *run, i int, src *source.Media) swonkie.CreateMediaRequest {
	req := swonkie.CreateMediaRequest{Name: src.Name, FileSize: src.Size}
	info, ok := r.rec.probed(i, src.Size)
	if !ok {
		m := r.rec.Request.Media[i]
		pr, err := p.sources.Probe(ctx, m.Source, source.Hint{Name: m.Name, ContentType: m.ContentType})
		switch {
		case err != nil:
			r.log.Info().Err(err).Int("item", i).Msg("could not probe the source; declaring its size alone")
			return req
		case pr.Size != src.Size:
			r.log.Info().Int("item", i).Int64("probed", pr.Size).Int64("opened", src.Size).
				Msg("the source changed size between probe and open; declaring its size alone")
			return req
		}
		info = pr.Info
	}
	return declare(req, info)
}

// declare adds what info says to a create request.
func declare(req swonkie.CreateMediaRequest, info mediainfo.Info) swonkie.CreateMediaRequest {
	if info.Kind == "" {
		return req
	}
	req.Width, req.Height = info.Display()
	if info.Kind == mediainfo.Video && info.Duration > 0 {
		req.Duration = info.Seconds()
	}
	return req
}

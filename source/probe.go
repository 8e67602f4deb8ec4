package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/mediaflow/mediaflow/mediainfo"
)

// Probed is what Probe learnt about a source without reading it whole.
type Probed struct {
	Name        string // as Open would name it
	ContentType string // as Open would detect it
	Size        int64
	Info        mediainfo.Info
	// BytesRead is what the probe read: from the file, or received in
	// HTTP response bodies. Requests counts the HTTP requests (0 for a
	// local file).
	BytesRead int64
	Requests  int
}

// Probe finds out what src is — format, size in pixels, orientation,
// duration and codec of a video — the way Open would open it (the same
// checks, the same address guard), reading only the headers that say so.
// A remote source is read with HTTP Range requests: an MP4 whose moov
// follows gigabytes of media data costs a few tens of KiB. A server that
// ignores Range is read as a stream up to where the probe stops, which
// for such an MP4 is its end.
//
// Errors are *Error with Op "probe"; a file that is no known image or
// video, or a broken one, is permanent and matches mediainfo.ErrMalformed
// or mediainfo.ErrUnknownFormat.
func (o *Opener) Probe(ctx context.Context, src string, want Hint) (*Probed, error) {
	t, err := o.parse(src)
	if err != nil {
		return nil, newError("probe", src, err)
	}
	if err := ctx.Err(); err != nil {
		return nil, newError("probe", src, err)
	}
	var p *Probed
	if t.url != nil {
		p, err = o.probeRemote(ctx, t.url, want)
	} else {
		p, err = o.probeLocal(t.rel, want)
	}
	if err != nil {
		return nil, newError("probe", src, err)
	}
	return p, nil
}

func (o *Opener) probeLocal(rel string, want Hint) (*Probed, error) {
	f, size, err := o.openLocalFile(rel)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &countingReaderAt{r: f}
	name := want.Name
	if name == "" {
		name = filepath.Base(rel)
	}
	return probeAt(c, size, name, want, "", func() int64 { return c.n }, func() int { return 0 })
}

func (o *Opener) probeRemote(ctx context.Context, t *urlTarget, want Hint) (*Probed, error) {
	r, err := o.firstRange(ctx, t.raw)
	var nr errNotRanged
	if errors.As(err, &nr) {
		if !nr.stopTimer() {
			nr.resp.Body.Close()
			return nil, fmt.Errorf("no response within %s: %w", o.timeout, context.DeadlineExceeded)
		}
		return o.probeStream(ctx, t, want, nr.resp)
	}
	if err != nil {
		return nil, err
	}
	name := want.Name
	if name == "" {
		name = r.name
	}
	if name == "" {
		name = t.name
	}
	if name == "" {
		name = "media"
	}
	return probeAt(r, r.size, name, want, r.header, func() int64 { return r.received }, func() int { return r.requests })
}

// probeAt probes a file read at offsets: the head for the content type,
// then the headers mediainfo needs.
func probeAt(r io.ReaderAt, size int64, name string, want Hint, header string, read func() int64, requests func() int) (*Probed, error) {
	head := make([]byte, min(sniffLen, size))
	n, err := r.ReadAt(head, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	info, err := mediainfo.Probe(r, size)
	if err != nil {
		return nil, mediaError(err)
	}
	return &Probed{Name: name, ContentType: detectType(want.ContentType, head[:n], header), Size: size,
		Info: info, BytesRead: read(), Requests: requests()}, nil
}

// probeStream reads the body of a server that ignored Range, forward, as
// far as the probe needs; one without a length is spooled first, since
// the probe must know where the file ends.
func (o *Opener) probeStream(ctx context.Context, t *urlTarget, want Hint, resp *http.Response) (*Probed, error) {
	defer resp.Body.Close()
	name := want.Name
	if name == "" {
		name = lastSegment(resp.Request.URL.Path)
	}
	if name == "" {
		name = t.name
	}
	if name == "" {
		name = "media"
	}
	header := resp.Header.Get("Content-Type")
	// Streaming is bounded by the caller's context and SOURCE_MIN_RATE,
	// as in Open: the file may be large and the link slow.
	body := &countingReader{r: o.watchRate(resp.Body, func() { resp.Body.Close() })}
	if resp.ContentLength == 0 {
		return nil, failf(errEmpty, nil, "response body is empty")
	}
	if resp.ContentLength < 0 {
		f, size, err := o.spool(ctx, body, o.maxSpool)
		if err != nil {
			return nil, err
		}
		defer f.discard()
		return probeAt(f, size, name, want, header, func() int64 { return body.n }, func() int { return 1 })
	}
	// The head is read first for the content type and handed to the probe
	// in front of the rest.
	head := make([]byte, min(sniffLen, resp.ContentLength))
	if _, err := io.ReadFull(body, head); err != nil {
		return nil, fmt.Errorf("read response body: %w", err)
	}
	info, err := mediainfo.ProbeStream(io.MultiReader(bytes.NewReader(head), body), resp.ContentLength)
	if err != nil {
		return nil, mediaError(err)
	}
	return &Probed{Name: name, ContentType: detectType(want.ContentType, head, header), Size: resp.ContentLength,
		Info: info, BytesRead: body.n, Requests: 1}, nil
}

// mediaError makes a file mediainfo cannot read a permanent failure; the
// reader's own errors keep their classification.
func mediaError(err error) error {
	if errors.Is(err, mediainfo.ErrUnknownFormat) || errors.Is(err, mediainfo.ErrMalformed) {
		return failf(errNotMedia, err, "%v", err)
	}
	return err
}

type countingReaderAt struct {
	r io.ReaderAt
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

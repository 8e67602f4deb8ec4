package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// rangeReader reads an HTTP source at any offset with Range requests,
// through the Opener's guarded client, so probing a remote file costs its
// headers rather than its length. Reads go by blocks of rangeBlock bytes,
// kept in a small cache, because a probe makes many small reads close
// together (box after box) and each request is a round trip.
type rangeReader struct {
	o    *Opener
	ctx  context.Context
	url  string
	size int64
	// name and header are the final URL's file name and the Content-Type
	// of the first answer.
	name, header string
	// validator is the first answer's strong ETag, sent as If-Range so
	// that a file replaced while it is probed is noticed rather than read
	// half old, half new.
	validator string

	blocks map[int64][]byte // block index → bytes
	order  []int64          // oldest first, for eviction

	received int64
	requests int
	// stopTimer stops the last request's timeout; false if it fired.
	stopTimer func() bool
}

const (
	rangeBlock = 32 << 10
	// rangeCache blocks are kept: 1 MiB.
	rangeCache = 32
	// maxRangeRequests bounds one probe: a file whose headers are spread
	// over more places than this is not worth the round trips.
	maxRangeRequests = 64
)

// errNotRanged is the first answer of a server that ignores Range: the
// caller reads the body as a stream instead.
type errNotRanged struct {
	resp *http.Response
	// stopTimer stops the request's timeout before the body is streamed;
	// false when it already fired.
	stopTimer func() bool
}

func (errNotRanged) Error() string { return "server ignores Range" }

// firstRange asks for the first block. A 206 tells the file's size and
// opens range mode; a 200 (Range ignored) is handed back in errNotRanged
// with its body open; 416 means there is nothing to read.
func (o *Opener) firstRange(ctx context.Context, raw string) (*rangeReader, error) {
	r := &rangeReader{o: o, ctx: ctx, url: raw, blocks: map[int64][]byte{}}
	resp, err := r.get(0, rangeBlock-1)
	if err != nil {
		return nil, err
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return nil, errNotRanged{resp: resp, stopTimer: r.stopTimer}
	case http.StatusRequestedRangeNotSatisfiable:
		resp.Body.Close()
		return nil, failf(errEmpty, nil, "response body is empty")
	}
	defer resp.Body.Close()
	start, end, total, err := contentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return nil, err
	}
	if start != 0 || total <= 0 || end >= total {
		return nil, fmt.Errorf("range request for the first bytes answered %q", resp.Header.Get("Content-Range"))
	}
	r.size = total
	r.header = resp.Header.Get("Content-Type")
	// After redirects the final URL usually names the file, as in Open.
	r.name = lastSegment(resp.Request.URL.Path)
	if etag := resp.Header.Get("ETag"); etag != "" && !strings.HasPrefix(etag, "W/") {
		r.validator = etag
	}
	if err := r.keep(0, resp.Body, end+1); err != nil {
		return nil, err
	}
	return r, nil
}

// get sends one GET for bytes [start, end]. The Opener's timeout bounds
// it from the dial to the end of the body, unless the caller stops it
// with stopTimer (to stream a body of unknown length) before it fires.
func (r *rangeReader) get(start, end int64) (*http.Response, error) {
	if r.requests >= maxRangeRequests {
		return nil, failf(errTooLarge, nil, "probing needed more than %d range requests", maxRangeRequests)
	}
	r.requests++
	ctx, cancel := context.WithCancel(r.ctx)
	var fired atomic.Bool
	timer := time.AfterFunc(r.o.timeout, func() {
		fired.Store(true)
		cancel()
	})
	fail := func(err error) (*http.Response, error) {
		timer.Stop()
		cancel()
		if fired.Load() && r.ctx.Err() == nil {
			err = fmt.Errorf("no answer to a range request within %s: %w", r.o.timeout, context.DeadlineExceeded)
		}
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	if err != nil {
		return fail(failf(errBadSource, nil, "malformed URL: %s", urlErrText(err)))
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end))
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "mediaflow-source/1")
	if r.validator != "" {
		req.Header.Set("If-Range", r.validator)
	}
	resp, err := r.o.client.Do(req)
	if err != nil {
		return fail(transportError(err))
	}
	switch resp.StatusCode {
	case http.StatusPartialContent, http.StatusOK, http.StatusRequestedRangeNotSatisfiable:
	default:
		resp.Body.Close()
		return fail(statusError(resp.StatusCode))
	}
	r.stopTimer = timer.Stop
	resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: func() {
		timer.Stop()
		cancel()
	}}
	return resp, nil
}

type cancelOnClose struct {
	io.ReadCloser
	cancel func()
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}

// ReadAt reads from the cache, fetching the missing blocks the read spans
// in one request.
func (r *rangeReader) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off >= r.size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), r.size) // exclusive
	first, last := off/rangeBlock, (end-1)/rangeBlock
	missFrom, missTo := int64(-1), int64(-1)
	for b := first; b <= last; b++ {
		if _, ok := r.blocks[b]; !ok {
			if missFrom < 0 {
				missFrom = b
			}
			missTo = b
		}
	}
	if missFrom >= 0 {
		r.evict(first, last, missTo-missFrom+1)
		if err := r.fetch(missFrom, missTo); err != nil {
			return 0, err
		}
	}
	n := 0
	for b := first; b <= last; b++ {
		blk := r.blocks[b]
		from := max(off+int64(n)-b*rangeBlock, 0)
		n += copy(p[n:], blk[from:])
	}
	if int64(n) < int64(len(p)) {
		return n, io.EOF
	}
	return n, nil
}

// fetch reads blocks first..last with one request.
func (r *rangeReader) fetch(first, last int64) error {
	start, end := first*rangeBlock, min((last+1)*rangeBlock, r.size)-1
	resp, err := r.get(start, end)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent {
		// With If-Range a 200 means the file changed; without, the server
		// stopped honouring ranges. Either way the bytes so far may not
		// belong with the rest.
		return fmt.Errorf("source changed while it was probed (range request answered %d)", resp.StatusCode)
	}
	s, e, total, err := contentRange(resp.Header.Get("Content-Range"))
	if err != nil {
		return err
	}
	if s != start || e != end || total != r.size {
		return fmt.Errorf("range request for bytes %d-%d/%d answered %q", start, end, r.size, resp.Header.Get("Content-Range"))
	}
	return r.keep(start, resp.Body, end-start+1)
}

// evict drops the oldest blocks until needed more fit in the cache,
// sparing first..last, which the read in progress uses. A read larger
// than the cache holds it all until the next read.
func (r *rangeReader) evict(first, last, needed int64) {
	kept := r.order[:0]
	excess := int64(len(r.order)) + needed - rangeCache
	for _, b := range r.order {
		if excess > 0 && (b < first || b > last) {
			delete(r.blocks, b)
			excess--
			continue
		}
		kept = append(kept, b)
	}
	r.order = kept
}

// keep reads n bytes at start from body into blocks.
func (r *rangeReader) keep(start int64, body io.Reader, n int64) error {
	buf := make([]byte, n)
	k, err := io.ReadFull(body, buf)
	r.received += int64(k)
	if err != nil {
		return fmt.Errorf("read range %d-%d: %w", start, start+n-1, err)
	}
	for off := int64(0); off < n; off += rangeBlock {
		b := (start + off) / rangeBlock
		if _, ok := r.blocks[b]; !ok {
			r.order = append(r.order, b)
		}
		r.blocks[b] = buf[off:min(off+rangeBlock, n)]
	}
	return nil
}

// contentRange parses "bytes first-last/total".
func contentRange(v string) (first, last, total int64, err error) {
	bad := func() (int64, int64, int64, error) {
		return 0, 0, 0, fmt.Errorf("unreadable Content-Range %q", v)
	}
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return bad()
	}
	span, size, ok := strings.Cut(rest, "/")
	if !ok {
		return bad()
	}
	a, b, ok := strings.Cut(span, "-")
	if !ok {
		return bad()
	}
	var errs []error
	parse := func(s string) int64 {
		n, err := strconv.ParseInt(s, 10, 64)
		errs = append(errs, err)
		return n
	}
	first, last, total = parse(a), parse(b), parse(size)
	if errors.Join(errs...) != nil || first < 0 || last < first {
		return bad()
	}
	return first, last, total, nil
}

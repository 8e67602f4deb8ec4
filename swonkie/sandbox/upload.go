package sandbox

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/swonkie"
)

// The upload side imitates an Azure Blob Storage SAS URL: the id in the
// path, the expiry in se, the permission in sp and an HMAC-SHA256 of them
// in sig, under a per-server random key.
const (
	permWrite = "w"
	permRead  = "r"
	// sasVersion is only decoration: real SAS URLs carry one.
	sasVersion = "2024-11-04"
	// maxBlobBytes is Azure's limit for a single Put Blob (5000 MiB); a
	// larger file would need block uploads, which the client does not do.
	maxBlobBytes = 5000 << 20
	sniffBytes   = 512
)

func (s *Server) signature(perm, id, resource, expiry string) string {
	mac := hmac.New(sha256.New, s.signKey)
	fmt.Fprintf(mac, "%s\n%s\n%s\n%s", perm, id, resource, expiry)
	return hex.EncodeToString(mac.Sum(nil))
}

// signedURL builds a storage URL for media id; resource "" is the file,
// "preview" its thumbnail.
func (s *Server) signedURL(origin, perm, id, resource string, expires time.Time) string {
	se := expires.UTC().Format(time.RFC3339)
	path := "/blob/" + url.PathEscape(id)
	if resource != "" {
		path += "/" + resource
	}
	q := url.Values{"sv": {sasVersion}, "sr": {"b"}, "sp": {perm}, "se": {se},
		"sig": {s.signature(perm, id, resource, se)}}
	return origin + path + "?" + q.Encode()
}

// verifySignature checks x's SAS query against perm and resource, then its
// expiry against now. Messages never repeat the signature.
func (s *Server) verifySignature(x *exchange, perm, resource string, now time.Time) *reply {
	q := x.r.URL.Query()
	sig, se := q.Get("sig"), q.Get("se")
	if sig == "" || se == "" || q.Get("sp") != perm {
		rep := errorReply(http.StatusForbidden, "AuthenticationFailed: the URL is not signed for this operation")
		return &rep
	}
	if !hmac.Equal([]byte(sig), []byte(s.signature(perm, x.params[0], resource, se))) {
		rep := errorReply(http.StatusForbidden, "AuthenticationFailed: signature did not match")
		return &rep
	}
	exp, err := time.Parse(time.RFC3339, se)
	if err != nil || now.After(exp) {
		rep := errorReply(http.StatusForbidden, "AuthenticationFailed: the signed URL has expired")
		return &rep
	}
	return nil
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 256<<10); return &b }}

// putBlob stores an upload: it counts, hashes and sniffs the bytes and
// keeps none of them. The state checks happen before reading (so a doomed
// upload is refused without being read) and again before committing
// (the media may have been deleted meanwhile).
func (s *Server) putBlob(x *exchange) reply {
	r := x.r
	if len(r.Header.Values("X-API-ID")) > 0 || len(r.Header.Values("X-API-KEY")) > 0 {
		s.violation(ViolationCredentialsToStorage, "PUT "+UploadTemplate, x.params[0])
		return errorReply(http.StatusBadRequest, "storage does not take Swonkie credentials; the upload URL is pre-signed")
	}
	if rep := s.verifySignature(x, permWrite, "", s.opts.Clock.Now()); rep != nil {
		return *rep
	}
	if r.Header.Get("x-ms-blob-type") != "BlockBlob" {
		return errorReply(http.StatusForbidden, "x-ms-blob-type: BlockBlob is required")
	}
	if r.ContentLength < 0 || r.Header.Get("Content-Length") == "" {
		return errorReply(http.StatusLengthRequired, "Content-Length is required; chunked uploads are not supported")
	}
	if r.ContentLength > maxBlobBytes {
		return errorReply(http.StatusRequestEntityTooLarge, fmt.Sprintf("a single upload is limited to %d bytes", int64(maxBlobBytes)))
	}
	if rep := s.blobWritable(x.params[0]); rep != nil {
		return *rep
	}

	d, err := digest(r.Body, r.ContentLength)
	// A body cut short can surface as io.ErrUnexpectedEOF inside the first
	// 512 bytes, which digest takes for a short file: the count decides.
	if err != nil || d.bytes != r.ContentLength {
		return errorReply(http.StatusBadRequest, fmt.Sprintf("upload ended after %d of %d bytes", d.bytes, r.ContentLength))
	}

	now := s.lock()
	defer s.mu.Unlock()
	m := s.liveMedia(x.params[0], now)
	switch {
	case m == nil:
		return errorReply(http.StatusNotFound, "BlobNotFound: the media no longer exists")
	case !m.confirmedAt.IsZero():
		return errorReply(http.StatusConflict, "the media was confirmed while the upload ran; its file can no longer change")
	}
	if !m.uploaded {
		s.counts.mediaUploaded++
	}
	m.uploaded, m.uploads, m.uploadedAt = true, m.uploads+1, now
	m.bytes, m.sum, m.sniffed, m.info, m.probeErr = d.bytes, d.sum, d.sniffed, d.info, d.probeErr
	s.counts.uploads++
	s.counts.bytesUploaded += d.bytes
	return reply{status: http.StatusCreated, header: http.Header{
		"Etag":                          {`"0x` + hex.EncodeToString(d.sum[:8]) + `"`},
		"Last-Modified":                 {now.UTC().Format(http.TimeFormat)},
		"X-Ms-Request-Server-Encrypted": {"true"},
	}}
}

// blobWritable refuses an upload for a media that is gone or confirmed.
func (s *Server) blobWritable(id string) *reply {
	now := s.lock()
	defer s.mu.Unlock()
	m := s.liveMedia(id, now)
	var rep reply
	switch {
	case m == nil:
		rep = errorReply(http.StatusNotFound, "BlobNotFound: the media no longer exists")
	case !m.confirmedAt.IsZero():
		rep = errorReply(http.StatusConflict, "the media is confirmed; its file can no longer change")
	default:
		return nil
	}
	return &rep
}

// blobDigest is all the sandbox keeps of an upload.
type blobDigest struct {
	bytes    int64
	sum      [32]byte
	sniffed  string
	info     mediainfo.Info // zero when the file could not be probed
	probeErr string
}

// digest reads body to its end through SHA-256. On the way it sniffs the
// first 512 bytes and probes the file as processing would (format, size,
// orientation, duration, codec), reading forward only: the probe skips
// what it does not need, and everything it skips is hashed all the same.
func digest(body io.Reader, size int64) (blobDigest, error) {
	var d blobDigest
	h := sha256.New()
	src := &countingReader{r: io.TeeReader(body, h)}
	head := make([]byte, sniffBytes)
	k, err := io.ReadFull(src, head)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return blobDigest{bytes: src.n}, err
	}
	head = head[:k]
	d.sniffed = http.DetectContentType(head)
	info, perr := mediainfo.ProbeStream(io.MultiReader(bytes.NewReader(head), src), size)
	switch {
	case perr == nil:
		d.info, d.sniffed = info, info.MIME()
	case errors.Is(perr, mediainfo.ErrMalformed) || errors.Is(perr, mediainfo.ErrUnknownFormat):
		d.probeErr = perr.Error()
	}
	// Any other probe failure is the body's, and shows in the count.
	buf := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(buf)
	_, err = io.CopyBuffer(io.Discard, src, *buf)
	d.bytes = src.n
	if err != nil {
		return d, err
	}
	h.Sum(d.sum[:0])
	return d, nil
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

// getBlob and getPreview answer the signed read URLs of a media's path
// and preview. The bytes were never kept, so they answer the metadata with
// an empty body.
func (s *Server) getBlob(x *exchange) reply    { return s.readBlob(x, "") }
func (s *Server) getPreview(x *exchange) reply { return s.readBlob(x, "preview") }

func (s *Server) readBlob(x *exchange, resource string) reply {
	now := s.lock()
	defer s.mu.Unlock()
	if rep := s.verifySignature(x, permRead, resource, now); rep != nil {
		return *rep
	}
	m := s.liveMedia(x.params[0], now)
	if m == nil || m.statusAt(now, s.opts.ProcessingDelay) != swonkie.MediaSuccess {
		return errorReply(http.StatusNotFound, "BlobNotFound: the media no longer exists")
	}
	return reply{status: http.StatusOK, header: http.Header{
		"X-Ms-Blob-Content-Length": {fmt.Sprint(m.bytes)},
		"X-Ms-Meta-Sha256":         {hex.EncodeToString(m.sum[:])},
		"X-Ms-Blob-Content-Type":   {m.sniffed},
	}}
}

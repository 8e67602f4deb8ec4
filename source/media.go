package source

import (
	"fmt"
	"io"
	"sync"
)

// Media is an opened source, read as a stream. Reading never holds the whole
// file in memory. Exactly Size bytes are read before io.EOF: a source that
// ends early yields an error instead of a silently short upload, and one that
// grows while being read (a file still being written) is cut at Size, the
// length already promised to the upload URL.
type Media struct {
	Name        string // from the hint, the file name, the URL's last path segment, or "media"
	ContentType string // from the hint, the content, the HTTP header, or application/octet-stream
	Size        int64  // bytes Read will return

	r      io.Reader
	left   int64
	source string
	close  func() error
	once   sync.Once
	err    error
}

func newMedia(src, name, contentType string, size int64, r io.Reader, closeFn func() error) *Media {
	return &Media{
		Name:        name,
		ContentType: contentType,
		Size:        size,
		r:           r,
		left:        size,
		source:      src,
		close:       closeFn,
	}
}

// Read reads the media. Errors other than io.EOF are *Error with Op "read",
// transient: a stream that broke may well work next time.
func (m *Media) Read(p []byte) (int, error) {
	if m.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.r.Read(p)
	m.left -= int64(n)
	switch {
	case err == nil:
		return n, nil
	case err == io.EOF && m.left == 0:
		return n, io.EOF
	case err == io.EOF:
		err = fmt.Errorf("source ended after %d of %d bytes: %w", m.Size-m.left, m.Size, io.ErrUnexpectedEOF)
	}
	return n, newError("read", m.source, err)
}

// Close releases the media: the file or connection, and a spool file. It is
// safe to call more than once and while a Read is blocked.
func (m *Media) Close() error {
	m.once.Do(func() { m.err = m.close() })
	return m.err
}

package mediainfo

import (
	"bytes"
	"errors"
	"fmt"
	"io"
)

// ErrUnknownFormat is returned for a file that is none of the known
// image or video formats.
var ErrUnknownFormat = errors.New("not a known image or video format")

// ErrMalformed is matched (errors.Is) by every error that says the file
// itself is wrong: truncated, inconsistent, or missing what a viewer
// needs. Retrying cannot help; the file must be fixed.
var ErrMalformed = errors.New("malformed media file")

// FormatError is a file that looked like Format but could not be read as
// one.
type FormatError struct {
	Format Format
	Reason string
}

func (e *FormatError) Error() string { return fmt.Sprintf("%s: %s", e.Format, e.Reason) }

func (e *FormatError) Is(target error) bool { return target == ErrMalformed }

func malformed(f Format, format string, args ...any) error {
	return &FormatError{Format: f, Reason: fmt.Sprintf(format, args...)}
}

// headLen is how much of the start of a file identifies its format.
const headLen = 32

// Probe reads what it needs from r, a file of size bytes. Errors are
// ErrUnknownFormat, a *FormatError (ErrMalformed), or an error of r,
// wrapped, which is whatever r says it is (a network error, say).
func Probe(r io.ReaderAt, size int64) (Info, error) {
	if size <= 0 {
		return Info{}, ErrUnknownFormat
	}
	head := make([]byte, min(headLen, size))
	if _, err := readFull(r, head, 0); err != nil {
		return Info{}, err
	}
	f := &file{r: r, size: size}
	switch {
	case bytes.HasPrefix(head, []byte{0xFF, 0xD8, 0xFF}):
		return probeJPEG(f)
	case bytes.HasPrefix(head, []byte("\x89PNG\r\n\x1a\n")):
		return probeConfig(f, PNG)
	case bytes.HasPrefix(head, []byte("GIF87a")), bytes.HasPrefix(head, []byte("GIF89a")):
		return probeConfig(f, GIF)
	case len(head) >= 12 && string(head[:4]) == "RIFF" && string(head[8:12]) == "WEBP":
		return probeWebP(f)
	case looksLikeBMFF(head):
		return probeBMFF(f)
	}
	return Info{}, ErrUnknownFormat
}

// ProbeStream probes a file of size bytes that can only be read forward,
// such as a request body: what the probe skips is read and discarded, so
// r is left wherever the probe stopped, and a caller that wants every
// byte (to hash them, say) keeps reading r afterwards. Every format's
// probe reads in file order; the first 64 KiB stay available for a
// second look.
func ProbeStream(r io.Reader, size int64) (Info, error) {
	return Probe(&forwardReader{r: r}, size)
}

// readFull reads len(p) bytes at off, turning a short read into
// io.ErrUnexpectedEOF.
func readFull(r io.ReaderAt, p []byte, off int64) (int, error) {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return n, nil
	}
	if err == nil || err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, fmt.Errorf("read %d bytes at %d: %w", len(p), off, err)
}

// file is the probed file.
type file struct {
	r    io.ReaderAt
	size int64
}

// read returns n bytes at off; a range past the end is a malformed file
// of format f, not an I/O error.
func (f *file) read(format Format, off, n int64) ([]byte, error) {
	if off < 0 || n < 0 || off > f.size || n > f.size-off {
		return nil, malformed(format, "truncated: needs %d bytes at offset %d of a %d-byte file", n, off, f.size)
	}
	p := make([]byte, n)
	if _, err := readFull(f.r, p, off); err != nil {
		return nil, err
	}
	return p, nil
}

// forwardReader serves ReadAt from a stream that only goes forward. It
// keeps the first keepLen bytes it reads so that a probe may look at the
// head twice.
type forwardReader struct {
	r    io.Reader
	pos  int64
	head []byte
	err  error
}

const keepLen = 64 << 10

// errBackward is a probe asking a stream for bytes it already passed: a
// bug in the probe, not in the file.
var errBackward = errors.New("mediainfo: a forward-only stream was asked to go back")

func (s *forwardReader) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	if off < s.pos {
		// Only the kept head can be read again, and only up to where the
		// stream stands.
		if off >= int64(len(s.head)) {
			return 0, errBackward
		}
		n = copy(p, s.head[off:])
		if n == len(p) {
			return n, nil
		}
		off += int64(n)
		if off != s.pos {
			return n, errBackward
		}
	}
	if err := s.advance(off); err != nil {
		return n, err
	}
	k, err := s.take(p[n:])
	return n + k, err
}

// advance reads up to off, keeping what falls in the head and discarding
// the rest.
func (s *forwardReader) advance(off int64) error {
	if s.pos < off && s.pos < keepLen {
		if _, err := s.take(make([]byte, min(off, keepLen)-s.pos)); err != nil {
			return err
		}
	}
	if s.pos < off {
		if s.err != nil {
			return s.err
		}
		k, err := io.CopyN(io.Discard, s.r, off-s.pos)
		s.pos += k
		if err != nil {
			s.err = err
			return err
		}
	}
	return nil
}

// take reads len(p) bytes from the stream, keeping the head's share.
func (s *forwardReader) take(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	k, err := io.ReadFull(s.r, p)
	if s.pos < keepLen {
		s.head = append(s.head, p[:min(int64(k), keepLen-s.pos)]...)
	}
	s.pos += int64(k)
	if err != nil {
		if err == io.ErrUnexpectedEOF {
			err = io.EOF
		}
		s.err = err
	}
	return k, err
}

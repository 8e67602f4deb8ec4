package source

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// spoolFile holds a source that arrived without a length. The upload URL
// needs the length before the first byte is sent, and holding the body in
// memory would break the bounded-memory invariant, so it goes to disk.
type spoolFile struct {
	*os.File
	unlinked bool
}

// spool copies r into a new file in SpoolDir, refusing more than limit bytes,
// and returns the file rewound, with its size. On error no file is left.
func (o *Opener) spool(r io.Reader, limit int64) (*spoolFile, int64, error) {
	f, err := os.CreateTemp(o.spoolDir, "mediaflow-spool-*")
	if err != nil {
		return nil, 0, fmt.Errorf("create spool file: %w", err)
	}
	s := &spoolFile{File: f}
	// Where the system allows it (Unix), the name goes at once and the open
	// descriptor keeps the data: a worker killed mid-upload then leaves no
	// multi-gigabyte file behind. Elsewhere Close removes it.
	s.unlinked = os.Remove(f.Name()) == nil
	n, err := io.Copy(f, io.LimitReader(r, limit+1))
	switch {
	case err != nil:
		err = fmt.Errorf("spool response body: %w", err)
	case n > limit:
		err = failf(errTooLarge, nil, "response without Content-Length exceeds the %d-byte spool limit (MaxSpoolBytes)", limit)
	case n == 0:
		err = failf(errEmpty, nil, "response body is empty")
	default:
		if _, err = f.Seek(0, io.SeekStart); err != nil {
			err = fmt.Errorf("rewind spool file: %w", err)
		}
	}
	if err != nil {
		s.discard()
		return nil, 0, err
	}
	return s, n, nil
}

// discard closes and removes the spool file; it is Media.Close for spooled
// sources.
func (s *spoolFile) discard() error {
	err := s.Close()
	if !s.unlinked {
		err = errors.Join(err, os.Remove(s.Name()))
	}
	return err
}

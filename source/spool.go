package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// spoolFile holds a source that arrived without a length. The upload URL
// needs the length before the first byte is sent, and holding the body in
// memory would break the bounded-memory invariant, so it goes to disk.
type spoolFile struct {
	*os.File
	unlinked bool
	budget   *spoolBudget
	held     int64 // bytes taken from budget
	once     sync.Once
}

// budgetWriter takes room from the budget before each write, so the bytes
// on disk never pass SPOOL_MAX_BYTES.
type budgetWriter struct {
	s     *spoolFile
	ctx   context.Context
	wait  time.Duration
	limit int64
}

// errOverLimit: the source passed MaxSpoolBytes, which no amount of
// waiting for room would fix.
var errOverLimit = errors.New("over the spool limit")

func (w budgetWriter) Write(p []byte) (int, error) {
	if w.s.held+int64(len(p)) > w.limit {
		return 0, errOverLimit
	}
	if err := w.s.budget.acquire(w.ctx, int64(len(p)), w.wait); err != nil {
		return 0, err
	}
	w.s.held += int64(len(p))
	return w.s.File.Write(p)
}

// spool copies r into a new file in SpoolDir, refusing more than limit bytes,
// and returns the file rewound, with its size. On error no file is left and
// its bytes are back in the budget.
func (o *Opener) spool(ctx context.Context, r io.Reader, limit int64) (*spoolFile, int64, error) {
	f, err := os.CreateTemp(o.spoolDir, "mediaflow-spool-*")
	if err != nil {
		return nil, 0, fmt.Errorf("create spool file: %w", err)
	}
	s := &spoolFile{File: f, budget: o.budget}
	// Where the system allows it (Unix), the name goes at once and the open
	// descriptor keeps the data: a worker killed mid-upload then leaves no
	// multi-gigabyte file behind. Elsewhere Close removes it.
	s.unlinked = os.Remove(f.Name()) == nil
	n, err := io.Copy(budgetWriter{s: s, ctx: ctx, wait: o.spoolWait, limit: limit}, io.LimitReader(r, limit+1))
	switch {
	case errors.Is(err, errOverLimit):
		err = failf(errTooLarge, nil, "response without Content-Length exceeds the %d-byte spool limit (MaxSpoolBytes)", limit)
	case errors.Is(err, ErrSpoolFull) || errors.Is(err, ErrTooSlow):
		// Already says what happened.
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

// discard closes and removes the spool file and gives its bytes back; it is
// Media.Close for spooled sources.
func (s *spoolFile) discard() error {
	err := s.Close()
	if !s.unlinked {
		err = errors.Join(err, os.Remove(s.Name()))
	}
	s.once.Do(func() { s.budget.release(s.held) })
	return err
}

package source

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// endless streams without a length until the client goes away; no
// request gets a byte of body before n requests have arrived, so that all
// sources spool side by side.
func endless(n int) http.Handler {
	chunk := make([]byte, 16<<10)
	copy(chunk, "\x89PNG\r\n\x1a\n")
	var mu sync.Mutex
	arrived := 0
	start := make(chan struct{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		mu.Lock()
		if arrived++; arrived == n {
			close(start)
		}
		mu.Unlock()
		select {
		case <-start:
		case <-r.Context().Done():
			return
		}
		// Paced (16 MiB/s each), so that one source cannot fill the whole
		// total before the others are even scheduled.
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
			}
		}
	})
}

// spooledOnDisk sums the sizes of this process's open spool files in dir,
// found through /proc: they are unlinked, so listing dir shows nothing.
func spooledOnDisk(t *testing.T, dir string) (files int, bytes int64) {
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	for _, fd := range fds {
		p := filepath.Join("/proc/self/fd", fd.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(target, filepath.Join(dir, "mediaflow-spool-")) {
			continue
		}
		if fi, err := os.Stat(p); err == nil {
			files++
			bytes += fi.Size()
		}
	}
	return files, bytes
}

// TestSpoolTotalHolds: four endless sources without a length, against a
// 1 MiB SPOOL_MAX_BYTES: the bytes on disk never pass it, each source fails
// with the transient spool-full error, and every byte is given back.
func TestSpoolTotalHolds(t *testing.T) {
	t.Parallel()
	const total, sources = 1 << 20, 4
	dir := t.TempDir()
	_, port := serve(t, endless(sources))
	o := mustNew(t, Config{AllowedHosts: []string{"127.0.0.1"}, SpoolDir: dir,
		SpoolTotalBytes: total, SpoolWait: 200 * time.Millisecond, MinRate: -1})

	var wg sync.WaitGroup
	errs := make([]error, sources)
	for i := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := o.Open(context.Background(), "http://127.0.0.1:"+port+"/live/"+strconv.Itoa(i)+"?token=s3cret", Hint{})
			if err == nil {
				m.Close()
			}
			errs[i] = err
		}()
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	var peakDisk, peakBudget int64
	peakFiles := 0
	for sampling := true; sampling; {
		select {
		case <-finished:
			sampling = false
		case <-time.After(time.Millisecond):
		}
		files, onDisk := spooledOnDisk(t, dir)
		peakFiles, peakDisk = max(peakFiles, files), max(peakDisk, onDisk)
		peakBudget = max(peakBudget, o.budget.inUse())
	}
	t.Logf("peak: %d bytes on disk in %d spool files, %d bytes accounted (total %d)", peakDisk, peakFiles, peakBudget, total)
	if peakDisk > total || peakBudget > total {
		t.Errorf("spooled %d bytes on disk, %d accounted; SPOOL_MAX_BYTES is %d", peakDisk, peakBudget, total)
	}
	if peakDisk < total/2 {
		t.Errorf("only %d bytes ever spooled: the sources did not really run side by side", peakDisk)
	}
	// While the others hold room a source fails with the transient
	// spool-full error; once they have given up, the last ones run alone
	// into the per-source cap (which is at most the total) and fail as too
	// large. Which source gets which depends on scheduling; that some wait
	// and fail for room does not.
	full := 0
	for i, err := range errs {
		switch {
		case err == nil:
			t.Errorf("source %d: an endless source was opened", i)
		case errors.Is(err, ErrSpoolFull) && !IsPermanent(err) && strings.Contains(err.Error(), "SPOOL_MAX_BYTES"):
			full++
		case errors.Is(err, errTooLarge) && IsPermanent(err):
		default:
			t.Errorf("source %d: %v; want spool full (transient) or too large (permanent)", i, err)
		}
		if err != nil && !strings.Contains(err.Error(), "/live/"+strconv.Itoa(i)) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("source %d: %q does not name the source, redacted", i, err)
		}
		t.Logf("source %d: %v", i, err)
	}
	if full == 0 {
		t.Error("no source failed for want of spool room")
	}
	if used := o.budget.inUse(); used != 0 {
		t.Errorf("%d bytes still accounted after every source failed", used)
	}
	if files, n := spooledOnDisk(t, dir); files != 0 {
		t.Errorf("%d spool files (%d bytes) still open", files, n)
	}
}

// TestSpoolRoomIsReused: sources that finish give their room back, so
// sources that together pass the total succeed one after another.
func TestSpoolRoomIsReused(t *testing.T) {
	t.Parallel()
	body := append(pngFile(t), make([]byte, 300<<10)...)
	_, port := serve(t, serveBytes(body, "image/png", false))
	o := mustNew(t, Config{AllowedHosts: []string{"127.0.0.1"}, SpoolDir: t.TempDir(), SpoolTotalBytes: 512 << 10})
	for i := range 4 {
		m, err := o.Open(context.Background(), "http://127.0.0.1:"+port+"/a.png", Hint{})
		if err != nil {
			t.Fatalf("source %d: %v", i, err)
		}
		if got := o.budget.inUse(); got != int64(len(body)) {
			t.Errorf("source %d: %d bytes accounted while open, want %d", i, got, len(body))
		}
		m.Close()
		if got := o.budget.inUse(); got != 0 {
			t.Errorf("source %d: %d bytes accounted after Close", i, got)
		}
	}
}

func TestSpoolDirChecked(t *testing.T) {
	t.Parallel()
	ro := t.TempDir()
	if err := os.Chmod(ro, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(ro, 0o700) })
	file := filepath.Join(t.TempDir(), "f")
	os.WriteFile(file, nil, 0o600)
	tests := []struct{ dir, want string }{
		{filepath.Join(t.TempDir(), "missing"), "is not a directory"},
		{file, "is not a directory"},
		{ro, "is not writable"},
	}
	for _, tt := range tests {
		if os.Geteuid() == 0 && tt.dir == ro {
			continue // root writes anywhere
		}
		_, err := New(Config{SpoolDir: tt.dir})
		if err == nil || !strings.Contains(err.Error(), "SPOOL_DIR "+tt.dir+" "+tt.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("New(SpoolDir %s) = %v; want one line saying it %s", tt.dir, err, tt.want)
		}
	}
}

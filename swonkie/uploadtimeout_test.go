package swonkie_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// TestUploadResponseTimeout: storage that takes the whole file and never
// answers fails the upload soon after the last byte, as a transient error;
// one that answers in time is not cut.
func TestUploadResponseTimeout(t *testing.T) {
	t.Parallel()
	const size = 256 << 10
	var received atomic.Int64
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		received.Store(n)
		if r.URL.Path == "/slow-but-fine" {
			time.Sleep(50 * time.Millisecond)
			w.WriteHeader(http.StatusCreated)
			return
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	t.Cleanup(storage.Close)
	c := newClient(t, storage.URL+"/v2", func(cfg *swonkie.Config) { cfg.UploadResponseTimeout = 300 * time.Millisecond })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	err := c.UploadMedia(ctx, storage.URL+"/never-answers?sig=abcdefgh12", strings.NewReader(strings.Repeat("x", size)), size, "")
	took := time.Since(start)
	if err == nil || !swonkie.IsTransient(err) || !strings.Contains(err.Error(), "no answer after the upload within 300ms") {
		t.Fatalf("upload to a silent storage: %v", err)
	}
	assertClean(t, "silent storage", err, "abcdefgh12")
	if took > 3*time.Second {
		t.Fatalf("the upload took %v to give up", took)
	}
	if received.Load() != size {
		t.Fatalf("storage read %d of %d bytes: the test did not exercise an answer timeout", received.Load(), size)
	}
	if ctx.Err() != nil {
		t.Fatal("the caller's context ended first")
	}

	// The deadline starts after the last byte: a body that takes longer
	// than the deadline to send is fine.
	body := &pacedReader{r: strings.NewReader(strings.Repeat("y", 8)), every: 60 * time.Millisecond}
	if err := c.UploadMedia(ctx, storage.URL+"/slow-but-fine", body, 8, ""); err != nil {
		t.Fatalf("slow body, prompt answer: %v", err)
	}
}

// pacedReader hands out one byte per every.
type pacedReader struct {
	r     io.Reader
	every time.Duration
}

func (p *pacedReader) Read(b []byte) (int, error) {
	time.Sleep(p.every)
	if len(b) > 1 {
		b = b[:1]
	}
	return p.r.Read(b)
}

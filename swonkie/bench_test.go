package swonkie_test

import (
	"context"
	"io"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// synthetic yields n bytes that start like a PNG, made on the fly from one
// small block: the benchmark must not hold the file it uploads.
type synthetic struct {
	left  int64
	off   int
	block []byte
}

func newSynthetic(n int64) *synthetic {
	block := make([]byte, 64<<10)
	for i := range block {
		block[i] = byte(i*31 + i>>8)
	}
	copy(block, "\x89PNG\r\n\x1a\n")
	return &synthetic{left: n, block: block}
}

func (s *synthetic) Read(p []byte) (int, error) {
	if s.left <= 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && s.left > 0 {
		chunk := p[n:]
		if int64(len(chunk)) > s.left {
			chunk = chunk[:s.left]
		}
		c := copy(chunk, s.block[s.off:])
		s.off += c
		if s.off == len(s.block) {
			s.off = 8 // the PNG signature only once
		}
		n += c
		s.left -= int64(c)
	}
	return n, nil
}

// heapPeak samples the live heap until stopped and reports the highest
// value seen. runtime/metrics reads it without stopping the world.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak.Load()
	}
}

// BenchmarkUpload1GiB streams 1 GiB through the client to the sandbox
// (same process, so both sides count) and reports how far the heap grew
// above where it started: the target is under 16 MiB.
func BenchmarkUpload1GiB(b *testing.B) {
	const size = 1 << 30
	f := newFixture(b, sandbox.Options{})
	ctx := context.Background()
	b.SetBytes(size)
	b.ReportAllocs()
	var worst uint64
	for b.Loop() {
		m, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "big.png", FileSize: size})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		base := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		metrics.Read(base)
		stop := heapPeak()
		if err := f.c.UploadMedia(ctx, m.UploadURL, newSynthetic(size), size, "image/png"); err != nil {
			b.Fatal(err)
		}
		peak := stop()
		if g := peak - min(peak, base[0].Value.Uint64()); g > worst {
			worst = g
		}
		if info, _ := f.r.Server.Media(m.MediaID); info.Bytes != size {
			b.Fatalf("sandbox counted %d bytes", info.Bytes)
		}
	}
	b.ReportMetric(float64(worst)/(1<<20), "heap-growth-MiB")
	if worst > 16<<20 {
		b.Errorf("heap grew by %.1f MiB uploading 1 GiB; the target is under 16 MiB", float64(worst)/(1<<20))
	}
}

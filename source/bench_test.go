package source

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkOpenStream streams synthetic HTTP bodies of growing size through
// Open and Media.Read, with and without Content-Length, and reports the peak
// growth of the live heap over the stream (peak-heap-B). Bounded memory
// (design invariant 6) shows as peak-heap-B staying flat while the size
// grows 256-fold.
//
// go test -run '^$' -bench OpenStream -benchtime=3x ./source/ (2 vCPU VM, Go 1.26):
//
//	size     mode     MB/s   peak-heap-B   B/op
//	1 MiB    length    414        28 072   33 834
//	1 MiB    spooled   287        82 408   59 138
//	16 MiB   length    785        49 336   29 088
//	16 MiB   spooled   611        56 840   63 837
//	256 MiB  length   1206        16 688   31 648
//	256 MiB  spooled   404        64 512   95 346
func BenchmarkOpenStream(b *testing.B) {
	for _, size := range []int64{1 << 20, 16 << 20, 256 << 20} {
		for _, spooled := range []bool{false, true} {
			mode := "length"
			if spooled {
				mode = "spooled"
			}
			b.Run(fmt.Sprintf("%dMiB/%s", size>>20, mode), func(b *testing.B) {
				srv := httptest.NewServer(syntheticMedia(size, spooled))
				defer srv.Close()
				o := mustNew(b, Config{AllowedHosts: loopback, SpoolDir: b.TempDir(), MaxSpoolBytes: 1 << 30})
				b.SetBytes(size)
				b.ReportAllocs()
				var peak uint64
				for b.Loop() {
					b.StopTimer()
					runtime.GC()
					base := liveHeap()
					stop := sampleHeap()
					b.StartTimer()

					m, err := o.Open(context.Background(), srv.URL+"/clip.mp4", Hint{})
					if err != nil {
						b.Fatal(err)
					}
					n, err := io.Copy(io.Discard, m)
					m.Close()
					if err != nil || n != size {
						b.Fatalf("streamed %d of %d bytes: %v", n, size, err)
					}

					b.StopTimer()
					if top := stop(); top > base {
						peak = max(peak, top-base)
					}
					b.StartTimer()
				}
				b.ReportMetric(float64(peak), "peak-heap-B")
			})
		}
	}
}

// syntheticMedia serves size bytes that start like an MP4, from one small
// buffer, so the server itself holds no more than the client should.
func syntheticMedia(size int64, chunked bool) http.Handler {
	chunk := make([]byte, 64<<10)
	copy(chunk, mp4File())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !chunked {
			w.Header().Set("Content-Length", strconv.FormatInt(size, 10))
		}
		w.Header().Set("Content-Type", "video/mp4")
		for left := size; left > 0; {
			n := min(left, int64(len(chunk)))
			if _, err := w.Write(chunk[:n]); err != nil {
				return
			}
			left -= n
		}
	})
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapSampleMu sync.Mutex

func liveHeap() uint64 {
	heapSampleMu.Lock()
	defer heapSampleMu.Unlock()
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

// sampleHeap polls the live heap until the returned stop is called, and
// stop returns the highest value seen.
func sampleHeap() (stop func() uint64) {
	var top atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for {
			if h := liveHeap(); h > top.Load() {
				top.Store(h)
			}
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		wg.Wait()
		return top.Load()
	}
}

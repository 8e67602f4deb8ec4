package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
	"github.com/mediaflow/mediaflow/mediainfo"
)

// probeMedia are real files made by ffmpeg, once, for the probe tests:
// a 2 s 1080×1920 H.264 video with its moov first, a 1 s one with its moov
// last, the same padded to 2 GiB (a sparse file: nothing is written for
// the padding), and a JPEG.
var probeMedia struct {
	once sync.Once
	dir  string
	err  error
}

const bigProbeSize = 2<<30 + 64<<10

func TestMain(m *testing.M) {
	code := m.Run()
	if probeMedia.dir != "" {
		os.RemoveAll(probeMedia.dir)
	}
	os.Exit(code)
}

// media returns the folder of probe media, made on first use.
func media(t *testing.T) string {
	t.Helper()
	probeMedia.once.Do(func() {
		if probeMedia.err = ffmpegtest.Require(); probeMedia.err != nil {
			return
		}
		if probeMedia.dir, probeMedia.err = os.MkdirTemp("", "source-probe-"); probeMedia.err != nil {
			return
		}
		d := probeMedia.dir
		for _, step := range []func() error{
			func() error {
				return ffmpegtest.MakeVideo(filepath.Join(d, "short.mp4"), ffmpegtest.Video{Width: 1080, Height: 1920, Seconds: 2, FastStart: true})
			},
			func() error {
				return ffmpegtest.MakeVideo(filepath.Join(d, "end.mp4"), ffmpegtest.Video{Width: 1080, Height: 1920, Seconds: 1})
			},
			func() error {
				return ffmpegtest.PadMdat(filepath.Join(d, "end.mp4"), filepath.Join(d, "big.mp4"), bigProbeSize)
			},
			func() error { return ffmpegtest.MakeImage(filepath.Join(d, "photo.jpg"), 640, 480) },
			func() error { return os.WriteFile(filepath.Join(d, "notes.txt"), []byte("not a picture\n"), 0o644) },
		} {
			if probeMedia.err = step(); probeMedia.err != nil {
				return
			}
		}
	})
	if probeMedia.err != nil {
		t.Fatal(probeMedia.err)
	}
	return probeMedia.dir
}

// rangeServer serves the probe media with http.ServeContent (Range,
// If-Range, ETag) and counts what it sends.
type rangeServer struct {
	dir      string
	requests atomic.Int64
	sent     atomic.Int64
	ranges   bool // false: Range is ignored, every answer is the whole file
	// etag returns the ETag of the n-th request (from 1); nil for none.
	etag func(n int64) string
	// handlers are the requests being answered: a client can read an
	// answer whole before its handler has counted the last write.
	handlers sync.WaitGroup
}

func (s *rangeServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handlers.Add(1)
	defer s.handlers.Done()
	n := s.requests.Add(1)
	f, err := os.Open(filepath.Join(s.dir, filepath.Base(r.URL.Path)))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	st, _ := f.Stat()
	cw := &countingWriter{ResponseWriter: w, n: &s.sent}
	if !s.ranges {
		r.Header.Del("Range")
	}
	if s.etag != nil {
		w.Header().Set("ETag", s.etag(n))
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(cw, r, "", st.ModTime(), f)
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// loopbackOpener allows the test server's loopback address, as an
// operator allows an internal media store.
func loopbackOpener(t *testing.T, cfg Config) *Opener {
	cfg.AllowedHosts = append(cfg.AllowedHosts, "127.0.0.1")
	return mustNew(t, cfg)
}

// The 2 GiB MP4 keeps its moov past 2 GiB of media data: probing it over
// HTTP costs a few range requests and well under 1 MiB.
func TestProbeRemoteReadsOnlyHeaders(t *testing.T) {
	t.Parallel()
	s := &rangeServer{dir: media(t), ranges: true, etag: func(int64) string { return `"big-v1"` }}
	_, port := serve(t, s)
	o := loopbackOpener(t, Config{})
	p, err := o.Probe(context.Background(), "http://127.0.0.1:"+port+"/big.mp4?sig=secret", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	info := p.Info
	if info.Kind != mediainfo.Video || info.Width != 1080 || info.Height != 1920 || info.Duration != time.Second ||
		info.VideoCodec != "h264" || p.Size != bigProbeSize {
		t.Errorf("probe %+v", p)
	}
	if p.Name != "big.mp4" || p.ContentType != "video/mp4" {
		t.Errorf("name %q, content type %q", p.Name, p.ContentType)
	}
	s.handlers.Wait() // every answer the probe read has been counted
	if p.BytesRead >= 1<<20 || s.sent.Load() >= 1<<20 {
		t.Errorf("probe read %d bytes, server sent %d; want under 1 MiB", p.BytesRead, s.sent.Load())
	}
	if p.BytesRead != s.sent.Load() || int64(p.Requests) != s.requests.Load() {
		t.Errorf("probe counted %d bytes in %d requests, server %d in %d", p.BytesRead, p.Requests, s.sent.Load(), s.requests.Load())
	}
	t.Logf("2 GiB MP4 with moov at the end, over HTTP: %d bytes in %d range requests", p.BytesRead, p.Requests)
}

// Range requests follow a redirect (a download link to a storage URL),
// and the file is named after where it ended up.
func TestProbeFollowsRedirects(t *testing.T) {
	t.Parallel()
	files := &rangeServer{dir: media(t), ranges: true}
	mux := http.NewServeMux()
	mux.Handle("/files/", http.StripPrefix("/files", files))
	mux.HandleFunc("/download", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/files/big.mp4", http.StatusFound)
	})
	_, port := serve(t, mux)
	p, err := loopbackOpener(t, Config{}).Probe(context.Background(), "http://127.0.0.1:"+port+"/download?id=7", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "big.mp4" || p.Info.Duration != time.Second || p.BytesRead >= 1<<20 {
		t.Fatalf("probe %+v", p)
	}
}

func TestProbeLocal(t *testing.T) {
	t.Parallel()
	o := mustNew(t, Config{Root: media(t)})
	tests := []struct {
		src      string
		kind     mediainfo.Kind
		w, h     int
		duration time.Duration
		ct       string
		maxRead  int64
	}{
		{"big.mp4", mediainfo.Video, 1080, 1920, time.Second, "video/mp4", 16 << 10},
		{"short.mp4", mediainfo.Video, 1080, 1920, 2 * time.Second, "video/mp4", 16 << 10},
		{"photo.jpg", mediainfo.Image, 640, 480, 0, "image/jpeg", 8 << 10},
	}
	for _, tt := range tests {
		p, err := o.Probe(context.Background(), tt.src, Hint{})
		if err != nil {
			t.Fatalf("%s: %v", tt.src, err)
		}
		if p.Info.Kind != tt.kind || p.Info.Width != tt.w || p.Info.Height != tt.h || p.Info.Duration != tt.duration ||
			p.ContentType != tt.ct || p.Name != tt.src || p.Requests != 0 {
			t.Errorf("%s: probe %+v", tt.src, p)
		}
		if p.BytesRead > tt.maxRead {
			t.Errorf("%s: read %d bytes, want at most %d", tt.src, p.BytesRead, tt.maxRead)
		}
	}
}

// A server that ignores Range is read as a stream, only as far as the
// probe needs: the head of a file whose moov comes first, all of one whose
// moov comes last.
func TestProbeServerWithoutRanges(t *testing.T) {
	t.Parallel()
	s := &rangeServer{dir: media(t)}
	_, port := serve(t, s)
	o := loopbackOpener(t, Config{})
	short, err := o.Probe(context.Background(), "http://127.0.0.1:"+port+"/short.mp4", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	if short.Info.Duration != 2*time.Second || short.Requests != 1 || short.BytesRead > 64<<10 {
		t.Errorf("short.mp4: %+v", short)
	}
	end, err := o.Probe(context.Background(), "http://127.0.0.1:"+port+"/end.mp4", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(media(t), "end.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	moovAt := int64(strings.LastIndex(string(data), "moov") - 4)
	if end.Info.Duration != time.Second || end.Info.Height != 1920 || end.BytesRead <= moovAt || end.BytesRead > int64(len(data)) {
		t.Errorf("end.mp4 (moov at %d of %d bytes): %+v", moovAt, len(data), end)
	}
}

// Without a length and without ranges the body is spooled, then probed.
func TestProbeChunkedWithoutRanges(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(media(t), "end.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	_, port := serve(t, serveBytes(data, "video/mp4", false))
	o := loopbackOpener(t, Config{})
	p, err := o.Probe(context.Background(), "http://127.0.0.1:"+port+"/clip", Hint{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Info.Duration != time.Second || p.Size != int64(len(data)) || p.Name != "clip" {
		t.Errorf("probe %+v", p)
	}
}

// A file replaced between two range requests is noticed through If-Range
// instead of being read half old, half new.
func TestProbeNoticesAChangedFile(t *testing.T) {
	t.Parallel()
	s := &rangeServer{dir: media(t), ranges: true, etag: func(n int64) string { return `"v` + strconv.FormatInt(n, 10) + `"` }}
	_, port := serve(t, s)
	o := loopbackOpener(t, Config{})
	_, err := o.Probe(context.Background(), "http://127.0.0.1:"+port+"/big.mp4", Hint{})
	if err == nil || !strings.Contains(err.Error(), "changed while it was probed") || IsPermanent(err) {
		t.Fatalf("error %v; want a transient 'changed while it was probed'", err)
	}
}

func TestProbeFailures(t *testing.T) {
	t.Parallel()
	s := &rangeServer{dir: media(t), ranges: true}
	_, port := serve(t, s)
	base := "http://127.0.0.1:" + port
	allowed := loopbackOpener(t, Config{Root: media(t)})
	res := fakeResolver(map[string][]netip.Addr{"media.private.test": addrs("10.0.0.7")})
	guarded := mustNew(t, Config{Resolver: res, Timeout: 5 * time.Second})
	tests := []struct {
		name      string
		o         *Opener
		src       string
		permanent bool
		is        error
		contains  string
	}{
		{"loopback without allowlist", guarded, base + "/short.mp4", true, errNotPublic, "ALLOWED_SOURCE_HOSTS"},
		{"name resolving to a private address", guarded, "http://media.private.test:" + port + "/short.mp4", true, errNotPublic, "10.0.0.7"},
		{"missing file", allowed, base + "/nope.mp4?token=hush", true, nil, "404 Not Found"},
		{"not media", allowed, base + "/notes.txt", true, mediainfo.ErrUnknownFormat, "not a known image or video format"},
		{"local not media", allowed, "notes.txt", true, mediainfo.ErrUnknownFormat, "not a known image or video format"},
		{"outside the root", allowed, "../etc/passwd", true, errOutsideRoot, "MEDIA_ROOT"},
		{"bad scheme", allowed, "ftp://example.com/a.mp4", true, errBadSource, "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := tt.o.Probe(context.Background(), tt.src, Hint{})
			e := asError(t, err)
			if e.Op != "probe" || e.Permanent != tt.permanent || (tt.is != nil && !errors.Is(err, tt.is)) ||
				!strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("error %v (op %s, permanent %v); want permanent %v, %v, containing %q", err, e.Op, e.Permanent, tt.permanent, tt.is, tt.contains)
			}
			// The source is named once, and without its query string.
			file, _, _ := strings.Cut(tt.src[strings.LastIndex(tt.src, "/")+1:], "?")
			if strings.Count(err.Error(), file) != 1 || strings.Contains(err.Error(), "hush") {
				t.Errorf("error %q names the source more than once or leaks its query", err)
			}
		})
	}
}

// A probe that would need more round trips than it is worth stops.
func TestProbeBoundsRangeRequests(t *testing.T) {
	t.Parallel()
	// 200 free boxes, 40 KiB apart: a box walk over them touches a new
	// block at every one.
	var data []byte
	data = append(data, box("ftyp", []byte("isom\x00\x00\x02\x00isom"))...)
	for range 200 {
		data = append(data, box("free", make([]byte, 40<<10))...)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "boxes.mp4"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	s := &rangeServer{dir: dir, ranges: true}
	_, port := serve(t, s)
	_, err := loopbackOpener(t, Config{}).Probe(context.Background(), "http://127.0.0.1:"+port+"/boxes.mp4", Hint{})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(maxRangeRequests)) || !IsPermanent(err) {
		t.Fatalf("error %v; want a permanent refusal after %d requests", err, maxRangeRequests)
	}
	if s.requests.Load() > maxRangeRequests {
		t.Errorf("%d requests sent", s.requests.Load())
	}
}

func TestContentRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in                 string
		first, last, total int64
		ok                 bool
	}{
		{"bytes 0-99/1000", 0, 99, 1000, true},
		{"bytes 2147483648-2147483700/2147483701", 2147483648, 2147483700, 2147483701, true},
		{"bytes 0-99/*", 0, 0, 0, false},
		{"bytes 10-5/100", 0, 0, 0, false},
		{"items 0-9/10", 0, 0, 0, false},
		{"", 0, 0, 0, false},
	}
	for _, tt := range tests {
		f, l, n, err := contentRange(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (f != tt.first || l != tt.last || n != tt.total)) {
			t.Errorf("contentRange(%q) = %d, %d, %d, %v", tt.in, f, l, n, err)
		}
	}
}

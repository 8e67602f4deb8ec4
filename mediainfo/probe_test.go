package mediainfo_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
	"github.com/mediaflow/mediaflow/mediainfo"
)

// countingReader counts what a probe reads, and where.
type countingReader struct {
	r     io.ReaderAt
	mu    sync.Mutex
	bytes int64
	reads int
	maxAt int64 // the furthest offset read
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.mu.Lock()
	c.bytes += int64(n)
	c.reads++
	c.maxAt = max(c.maxAt, off+int64(n))
	c.mu.Unlock()
	return n, err
}

func open(t *testing.T, name string) (*os.File, int64) {
	t.Helper()
	f, err := os.Open(fixture(name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return f, st.Size()
}

func probeFile(t *testing.T, name string) (mediainfo.Info, *countingReader) {
	t.Helper()
	f, size := open(t, name)
	c := &countingReader{r: f}
	info, err := mediainfo.Probe(c, size)
	if err != nil {
		t.Fatalf("probe %s: %v", name, err)
	}
	return info, c
}

func TestProbeFilesMadeByFFmpeg(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file        string
		want        mediainfo.Info
		display     [2]int
		rotation    int
		readAtMost  int64
		withinFirst bool // every byte read lies in the first 64 KiB
	}{
		{"v10s.mp4", mediainfo.Info{Kind: mediainfo.Video, Format: mediainfo.MP4, Width: 1080, Height: 1920, Orientation: 1,
			Duration: 10 * time.Second, VideoCodec: "h264", AudioCodec: "aac"}, [2]int{1080, 1920}, 0, 4 << 10, false},
		{"v2s.mp4", mediainfo.Info{Kind: mediainfo.Video, Format: mediainfo.MP4, Width: 1080, Height: 1920, Orientation: 1,
			Duration: 2 * time.Second, VideoCodec: "h264"}, [2]int{1080, 1920}, 0, 4 << 10, true},
		{"rotated.mp4", mediainfo.Info{Kind: mediainfo.Video, Format: mediainfo.MP4, Width: 1920, Height: 1080, Orientation: 6,
			Duration: time.Second, VideoCodec: "h264"}, [2]int{1080, 1920}, 90, 4 << 10, false},
		{"hevc.mov", mediainfo.Info{Kind: mediainfo.Video, Format: mediainfo.MOV, Width: 640, Height: 360, Orientation: 1,
			Duration: time.Second, VideoCodec: "hevc"}, [2]int{640, 360}, 0, 4 << 10, true},
		{"photo.png", mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.PNG, Width: 640, Height: 480, Orientation: 1},
			[2]int{640, 480}, 0, 8 << 10, true},
		{"photo.jpg", mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.JPEG, Width: 640, Height: 480, Orientation: 1},
			[2]int{640, 480}, 0, 1 << 10, true},
		{"turned.jpg", mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.JPEG, Width: 640, Height: 480, Orientation: 6},
			[2]int{480, 640}, 90, 1 << 10, true},
		{"photo.gif", mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.GIF, Width: 320, Height: 240, Orientation: 1},
			[2]int{320, 240}, 0, 8 << 10, true},
		{"photo.webp", mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.WebP, Width: 640, Height: 480, Orientation: 1},
			[2]int{640, 480}, 0, 8 << 10, true},
		{"photo.avif", mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.AVIF, Width: 64, Height: 48, Orientation: 1},
			[2]int{64, 48}, 0, 1 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			got, c := probeFile(t, tt.file)
			if got != tt.want {
				t.Errorf("probe:\n got %+v\nwant %+v", got, tt.want)
			}
			if w, h := got.Display(); [2]int{w, h} != tt.display || got.Rotation() != tt.rotation {
				t.Errorf("display %dx%d rotated %d, want %dx%d rotated %d", w, h, got.Rotation(), tt.display[0], tt.display[1], tt.rotation)
			}
			if c.bytes > tt.readAtMost {
				t.Errorf("read %d bytes in %d reads, want at most %d", c.bytes, c.reads, tt.readAtMost)
			}
			if tt.withinFirst && c.maxAt > 64<<10 {
				t.Errorf("read up to offset %d of a file whose headers are at its start", c.maxAt)
			}
			if got.Kind == mediainfo.Video {
				agreeWithFFprobe(t, fixture(tt.file), got)
			}
		})
	}
}

// agreeWithFFprobe checks a video's probe against ffprobe's reading of the
// same file.
func agreeWithFFprobe(t *testing.T, path string, got mediainfo.Info) {
	t.Helper()
	ref, err := ffmpegtest.FFprobe(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Width != ref.Width || got.Height != ref.Height || got.VideoCodec != ref.Codec {
		t.Errorf("probe %dx%d %s, ffprobe %dx%d %s", got.Width, got.Height, got.VideoCodec, ref.Width, ref.Height, ref.Codec)
	}
	if math.Abs(got.Seconds()-ref.Duration) > 0.05 {
		t.Errorf("probe %.3fs, ffprobe %.3fs", got.Seconds(), ref.Duration)
	}
	// ffprobe counts anti-clockwise, the probe clockwise.
	if want := ((-ref.RotationACW)%360 + 360) % 360; got.Rotation() != want {
		t.Errorf("probe rotation %d clockwise, ffprobe %d anti-clockwise", got.Rotation(), ref.RotationACW)
	}
}

// The 2 GiB file keeps its moov past the 2 GiB of media data: the probe
// reaches it by offset, reading a few KiB.
func TestProbeSeeksPastMediaData(t *testing.T) {
	t.Parallel()
	f, size := open(t, "big.mp4")
	if size < bigSize {
		t.Fatalf("big.mp4 is %d bytes", size)
	}
	c := &countingReader{r: f}
	got, err := mediainfo.Probe(c, size)
	if err != nil {
		t.Fatal(err)
	}
	if got.Width != 1080 || got.Height != 1920 || got.Duration != 10*time.Second || got.VideoCodec != "h264" {
		t.Errorf("probe %+v", got)
	}
	if c.bytes > 8<<10 || c.maxAt < 2<<30 {
		t.Errorf("read %d bytes in %d reads, up to offset %d; want < 8 KiB and past 2 GiB", c.bytes, c.reads, c.maxAt)
	}
	// The padded file is valid: ffprobe reads it the same way.
	agreeWithFFprobe(t, fixture("big.mp4"), got)
	t.Logf("2 GiB file: %d bytes read in %d reads", c.bytes, c.reads)
}

// ProbeStream reads forward only and finds what Probe finds.
func TestProbeStreamMatchesProbe(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"v10s.mp4", "v2s.mp4", "rotated.mp4", "hevc.mov", "photo.png", "photo.jpg",
		"turned.jpg", "photo.gif", "photo.webp", "photo.avif"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, _ := probeFile(t, name)
			f, size := open(t, name)
			stream := &onlyForward{r: f}
			got, err := mediainfo.ProbeStream(stream, size)
			if err != nil || got != want {
				t.Fatalf("stream probe %+v, %v; want %+v", got, err, want)
			}
			// What the probe left unread is still there for the caller.
			rest, err := io.ReadAll(stream)
			if err != nil || stream.n != size || int64(len(rest)) > size {
				t.Fatalf("after the probe: read %d more (%v), %d of %d in all", len(rest), err, stream.n, size)
			}
		})
	}
}

// onlyForward is an io.Reader with no other method, so nothing can seek.
type onlyForward struct {
	r io.Reader
	n int64
}

func (o *onlyForward) Read(p []byte) (int, error) {
	n, err := o.r.Read(p)
	o.n += int64(n)
	return n, err
}

func TestProbeRefusesWhatItCannotRead(t *testing.T) {
	t.Parallel()
	read := func(name string) []byte {
		b, err := os.ReadFile(fixture(name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	mp4 := read("v10s.mp4")
	moovAt := int64(bytes.LastIndex(mp4, []byte("moov")) - 4)
	jpg := read("photo.jpg")
	png := read("photo.png")
	tests := []struct {
		name    string
		data    []byte
		want    error
		message string
	}{
		{"text", []byte("just some words, not a picture at all"), mediainfo.ErrUnknownFormat, ""},
		{"empty", nil, mediainfo.ErrUnknownFormat, ""},
		{"mp4 cut before its moov", mp4[:moovAt], mediainfo.ErrMalformed, "no moov"},
		{"mp4 cut inside its mdat", mp4[:moovAt/2], mediainfo.ErrMalformed, "claims"},
		{"mp4 cut inside its moov", mp4[:moovAt+200], mediainfo.ErrMalformed, "claims"},
		{"jpeg cut before its frame header", jpg[:20], mediainfo.ErrMalformed, "truncated"},
		{"png cut in its header", png[:20], mediainfo.ErrMalformed, "png"},
		{"ftyp only", box("ftyp", []byte("isom\x00\x00\x02\x00isom")), mediainfo.ErrMalformed, "no moov"},
		{"moov without video", append(box("ftyp", []byte("M4A \x00\x00\x00\x00M4A ")), box("moov", box("mvhd", make([]byte, 100)))...),
			mediainfo.ErrMalformed, "no video track"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := mediainfo.Probe(bytes.NewReader(tt.data), int64(len(tt.data)))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("error %v, want %v containing %q", err, tt.want, tt.message)
			}
		})
	}
}

// A reader that fails is not a malformed file: its error comes through.
func TestProbePassesReaderErrorsOn(t *testing.T) {
	t.Parallel()
	broken := errors.New("connection reset")
	for _, name := range []string{"v10s.mp4", "photo.png", "photo.jpg", "photo.webp"} {
		f, size := open(t, name)
		// Fail once the format is known: the first read identifies it.
		r := &failingReader{r: f, failFrom: 2, err: broken}
		_, err := mediainfo.Probe(r, size)
		if !errors.Is(err, broken) || errors.Is(err, mediainfo.ErrMalformed) {
			t.Errorf("%s: error %v, want the reader's, not a malformed file", name, err)
		}
	}
}

type failingReader struct {
	r        io.ReaderAt
	calls    int
	failFrom int
	err      error
}

func (f *failingReader) ReadAt(p []byte, off int64) (int, error) {
	f.calls++
	if f.calls >= f.failFrom {
		return 0, f.err
	}
	return f.r.ReadAt(p, off)
}

func TestInfoJSONRoundTrip(t *testing.T) {
	t.Parallel()
	info, _ := probeFile(t, "rotated.mp4")
	b, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"mime":"video/mp4"`, `"displayWidth":1080`, `"displayHeight":1920`, `"rotation":90`, `"duration":1`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	var back mediainfo.Info
	if err := json.Unmarshal(b, &back); err != nil || back != info {
		t.Fatalf("round trip %+v (%v), want %+v", back, err, info)
	}
}

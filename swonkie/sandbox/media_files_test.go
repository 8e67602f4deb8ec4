package sandbox_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
)

// Real media files made by ffmpeg for the tests that need the sandbox to
// read a file as processing would: made on first use, removed by
// TestMain.
var mediaFiles struct {
	once sync.Once
	dir  string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if mediaFiles.dir != "" {
		os.RemoveAll(mediaFiles.dir)
	}
	os.Exit(code)
}

// mediaFile returns the path of one of: clip.mp4 (2 s, 1080×1920, H.264,
// moov after mdat), rotated.mp4 (1 s, stored 640×360, shown 360×640),
// big.mp4 (clip.mp4 padded to 64 MiB), turned.jpg (640×480 with EXIF
// orientation 6, shown 480×640).
func mediaFile(t *testing.T, name string) string {
	t.Helper()
	mediaFiles.once.Do(func() {
		if mediaFiles.err = ffmpegtest.Require(); mediaFiles.err != nil {
			return
		}
		if mediaFiles.dir, mediaFiles.err = os.MkdirTemp("", "sandbox-media-"); mediaFiles.err != nil {
			return
		}
		d := mediaFiles.dir
		for _, step := range []func() error{
			func() error {
				return ffmpegtest.MakeVideo(filepath.Join(d, "clip.mp4"), ffmpegtest.Video{Width: 1080, Height: 1920, Seconds: 2})
			},
			func() error {
				return ffmpegtest.MakeVideo(filepath.Join(d, "rotated.mp4"), ffmpegtest.Video{Width: 640, Height: 360, Seconds: 1, RotationACW: -90})
			},
			func() error {
				return ffmpegtest.PadMdat(filepath.Join(d, "clip.mp4"), filepath.Join(d, "big.mp4"), 64<<20)
			},
			func() error { return ffmpegtest.MakeImage(filepath.Join(d, "turned.jpg"), 640, 480) },
			func() error { return ffmpegtest.WithEXIFOrientation(filepath.Join(d, "turned.jpg"), 6) },
		} {
			if mediaFiles.err = step(); mediaFiles.err != nil {
				return
			}
		}
	})
	if mediaFiles.err != nil {
		t.Fatal(mediaFiles.err)
	}
	return filepath.Join(mediaFiles.dir, name)
}

func mediaBytes(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(mediaFile(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

package mediainfo_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
)

// fixtures is the folder of files ffmpeg made for this package's tests,
// once, in TestMain.
var fixtures string

// bigSize is the size of big.mp4: moov lies past it.
const bigSize = 2<<30 + 4096

// Videos and images made by ffmpeg. rotated.mp4 is stored landscape and
// shown portrait, as phones record; v10s.mp4 has its moov at the end and
// its audio track first.
var videos = map[string]ffmpegtest.Video{
	"v10s.mp4":    {Width: 1080, Height: 1920, Seconds: 10, Audio: true},
	"v2s.mp4":     {Width: 1080, Height: 1920, Seconds: 2, FastStart: true},
	"rotated.mp4": {Width: 1920, Height: 1080, Seconds: 1, RotationACW: -90},
	"hevc.mov":    {Width: 640, Height: 360, Seconds: 1, Codec: "hevc", FastStart: true},
}

var images = map[string][2]int{
	"photo.png": {640, 480}, "photo.jpg": {640, 480}, "photo.gif": {320, 240},
	"photo.webp": {640, 480}, "photo.avif": {64, 48}, "turned.jpg": {640, 480},
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if err := ffmpegtest.Require(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	dir, err := os.MkdirTemp("", "mediainfo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	fixtures = dir
	if err := makeFixtures(dir); err != nil {
		fmt.Fprintln(os.Stderr, "make test media:", err)
		return 1
	}
	return m.Run()
}

// makeFixtures runs ffmpeg for every file, two at a time (the machine has
// two cores), then pads v10s.mp4 into big.mp4.
func makeFixtures(dir string) error {
	var jobs []func() error
	for name, v := range videos {
		jobs = append(jobs, func() error { return ffmpegtest.MakeVideo(filepath.Join(dir, name), v) })
	}
	for name, wh := range images {
		jobs = append(jobs, func() error { return ffmpegtest.MakeImage(filepath.Join(dir, name), wh[0], wh[1]) })
	}
	var next atomic.Int64
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(len(jobs)); i = next.Add(1) - 1 {
				errs[i] = jobs[i]()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	if err := ffmpegtest.WithEXIFOrientation(filepath.Join(dir, "turned.jpg"), 6); err != nil {
		return err
	}
	return ffmpegtest.PadMdat(filepath.Join(dir, "v10s.mp4"), filepath.Join(dir, "big.mp4"), bigSize)
}

func fixture(name string) string { return filepath.Join(fixtures, name) }

package publishrules_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/publishrules"
)

// Real videos made by ffmpeg, probed, then checked as Instagram Reels:
// the 2 s one is refused, naming the rule's source; the 10 s one passes.
func TestRealVideosAsInstagramReels(t *testing.T) {
	t.Parallel()
	if err := ffmpegtest.Require(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rules := publishrules.Default()
	for _, tt := range []struct {
		seconds float64
		refused bool
	}{{2, true}, {10, false}} {
		path := filepath.Join(dir, "reel.mp4")
		if err := ffmpegtest.MakeVideo(path, ffmpegtest.Video{Width: 1080, Height: 1920, Seconds: tt.seconds}); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		info, err := mediainfo.Probe(f, st.Size())
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		errs := publishrules.Errors(rules.Check(publishrules.Post{Type: "REEL", Networks: []string{"instagram"},
			Media: []publishrules.Media{{Name: "reel.mp4", Size: st.Size(), Info: info}}}))
		switch {
		case tt.refused && (len(errs) != 1 || errs[0].Rule != "video.seconds" || errs[0].Value != "2s" || errs[0].Source != igMedia):
			t.Errorf("%gs Reel: errors %+v; want video.seconds citing %s", tt.seconds, errs, igMedia)
		case !tt.refused && len(errs) != 0:
			t.Errorf("%gs Reel refused: %+v", tt.seconds, errs)
		}
	}
}

package publishrules_test

import (
	"fmt"
	"time"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/publishrules"
)

func Example() {
	rules, err := publishrules.Load("") // or os.Getenv("PUBLISH_RULES_FILE")
	if err != nil {
		panic(err)
	}
	clip := mediainfo.Info{Kind: mediainfo.Video, Format: mediainfo.MP4, Width: 1080, Height: 1920,
		Orientation: 1, Duration: 2 * time.Second, VideoCodec: "h264"}
	findings := rules.Check(publishrules.Post{
		Type:     "REEL",
		Networks: []string{"instagram", "facebook"},
		Captions: []publishrules.Caption{{Text: "Two seconds of blue"}},
		Media:    []publishrules.Media{{Name: "clip.mp4", Size: 40_000, Info: clip}},
	})
	for _, f := range findings {
		fmt.Printf("%s %s: %s\n  source: %s\n", f.Severity, f.Rule, f.Message, f.Source)
	}
	// Output:
	// error video.seconds: media[0] (clip.mp4) on facebook: the duration is 2s; Facebook REEL takes 3s to 1m30s
	//   source: https://developers.facebook.com/docs/video-api/guides/reels-publishing
	// error video.seconds: media[0] (clip.mp4) on instagram: the duration is 2s; Instagram REEL takes 3s to 15m0s
	//   source: https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media
}

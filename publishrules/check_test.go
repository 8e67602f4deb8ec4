package publishrules_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/publishrules"
)

const (
	igMedia   = "https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/media"
	igPublish = "https://developers.facebook.com/docs/instagram-platform/content-publishing"
	liPosts   = "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/posts-api"
	liVideos  = "https://learn.microsoft.com/en-us/linkedin/marketing/community-management/shares/videos-api"
	ytLength  = "https://support.google.com/youtube/answer/71673"
)

func video(w, h int, seconds float64, orientation int) publishrules.Media {
	return publishrules.Media{Name: "clip.mp4", Size: 8_000_000, Info: mediainfo.Info{Kind: mediainfo.Video, Format: mediainfo.MP4,
		Width: w, Height: h, Orientation: orientation, Duration: time.Duration(seconds * float64(time.Second)), VideoCodec: "h264"}}
}

func image(format mediainfo.Format, w, h int) publishrules.Media {
	return publishrules.Media{Name: "photo." + string(format), Size: 500_000, Info: mediainfo.Info{Kind: mediainfo.Image, Format: format,
		Width: w, Height: h, Orientation: 1}}
}

func times[T any](n int, v T) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// want is the part of a finding a case checks.
type want struct {
	severity publishrules.Severity
	network  string
	item     string
	rule     string
	value    string
	limit    string
	source   string
}

func TestCheck(t *testing.T) {
	t.Parallel()
	rules := publishrules.Default()
	tests := []struct {
		name string
		post publishrules.Post
		want []want
	}{
		{
			name: "2 s video as an Instagram Reel",
			post: publishrules.Post{Type: "REEL", Networks: []string{"instagram"}, Media: []publishrules.Media{video(1080, 1920, 2, 1)}},
			want: []want{{publishrules.Error, "instagram", "media[0] (clip.mp4)", "video.seconds", "2s", "3s to 15m0s", igMedia}},
		},
		{
			name: "10 s 1080×1920 H.264 as an Instagram Reel",
			post: publishrules.Post{Type: "REEL", Networks: []string{"instagram"}, Media: []publishrules.Media{video(1080, 1920, 10, 1)},
				Captions: []publishrules.Caption{{Text: "hello"}}},
		},
		{
			name: "a phone video stored landscape, shown portrait, is a fine Reel",
			post: publishrules.Post{Type: "REEL", Networks: []string{"instagram"}, Media: []publishrules.Media{video(1920, 1080, 10, 6)}},
		},
		{
			name: "a landscape Reel is letterboxed",
			post: publishrules.Post{Type: "REEL", Networks: []string{"instagram"}, Media: []publishrules.Media{video(1920, 1080, 10, 1)}},
			want: []want{{publishrules.Warning, "instagram", "media[0] (clip.mp4)", "video.aspect", "1.778 (1920×1080)", "0.5 to 0.63", igMedia}},
		},
		{
			name: "caption too long for one network of two",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"facebook", "instagram"},
				Captions: []publishrules.Caption{{Text: strings.Repeat("é", 2201)}}, Media: []publishrules.Media{image(mediainfo.JPEG, 1080, 1080)}},
			want: []want{{publishrules.Error, "instagram", "caption", "caption.length", "2201 characters", "at most 2200 characters", igMedia}},
		},
		{
			name: "a network's own caption wins over the shared one",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"facebook", "instagram"},
				Captions: []publishrules.Caption{{Text: strings.Repeat("a", 3000)}, {Net: "instagram", Text: "short"}},
				Media:    []publishrules.Media{image(mediainfo.JPEG, 1080, 1080)}},
		},
		{
			name: "a network's own caption is checked under its name",
			post: publishrules.Post{Type: "STATUS", Networks: []string{"threads"},
				Captions: []publishrules.Caption{{Text: "ok"}, {Net: "threads", Text: strings.Repeat("x", 501)}}},
			want: []want{{publishrules.Error, "threads", "caption (threads)", "caption.length", "501 characters", "1 characters to 500 characters",
				"https://developers.facebook.com/docs/threads/posts"}},
		},
		{
			name: "TikTok counts UTF-16 units",
			post: publishrules.Post{Type: "REEL", Networks: []string{"tiktok"}, Media: []publishrules.Media{video(1080, 1920, 10, 1)},
				Captions: []publishrules.Caption{{Text: strings.Repeat("😀", 1101)}}},
			want: []want{{publishrules.Error, "tiktok", "caption", "caption.length", "2202 UTF-16 units", "at most 2200 UTF-16 units",
				"https://developers.tiktok.com/doc/content-posting-api-reference-direct-post"}},
		},
		{
			name: "eleven images in an Instagram carousel",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"instagram"}, Media: times(11, image(mediainfo.JPEG, 1080, 1080))},
			want: []want{{publishrules.Error, "instagram", "post", "media.count", "11 media", "1 media to 10 media", igPublish}},
		},
		{
			name: "a PNG to Instagram, too wide and too large",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"instagram"},
				Media: []publishrules.Media{{Name: "wide.png", Size: 9_500_000, Info: mediainfo.Info{Kind: mediainfo.Image, Format: mediainfo.PNG, Width: 4000, Height: 1000}}}},
			want: []want{
				{publishrules.Error, "instagram", "media[0] (wide.png)", "image.aspect", "4.000 (4000×1000)", "0.8 to 1.91", igMedia},
				{publishrules.Error, "instagram", "media[0] (wide.png)", "image.bytes", "9.5 MB", "at most 8 MB", igMedia},
				{publishrules.Error, "instagram", "media[0] (wide.png)", "image.formats", "png", "jpeg", igMedia},
				{publishrules.Warning, "instagram", "media[0] (wide.png)", "image.width", "4000 px", "at most 1440 px", igMedia},
			},
		},
		{
			name: "LinkedIn: two videos, and images with them",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"linkedin"},
				Media: []publishrules.Media{video(1920, 1080, 30, 1), video(1920, 1080, 30, 1), image(mediainfo.JPEG, 1200, 627)}},
			want: []want{
				{publishrules.Error, "linkedin", "post", "media.mixed", "images and videos", "one kind", liPosts},
				{publishrules.Error, "linkedin", "post", "video.count", "2 videos", "at most 1 videos", liVideos},
			},
		},
		{
			name: "an image to TikTok",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"tiktok"}, Media: []publishrules.Media{image(mediainfo.JPEG, 1080, 1920)}},
			want: []want{{publishrules.Error, "tiktok", "media[0] (photo.jpeg)", "media.kind", "image", "videos",
				"https://developers.tiktok.com/doc/content-posting-api-media-transfer-guide"}},
		},
		{
			name: "a Reel to LinkedIn",
			post: publishrules.Post{Type: "REEL", Networks: []string{"linkedin"}, Media: []publishrules.Media{video(1080, 1920, 10, 1)}},
			want: []want{{publishrules.Error, "linkedin", "post", "post.type", "REEL", "LINK, MEDIA, STATUS", liPosts}},
		},
		{
			name: "media for one network only",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"facebook", "tiktok"},
				Media: []publishrules.Media{func() publishrules.Media { m := image(mediainfo.JPEG, 800, 800); m.Net = "facebook"; return m }(),
					func() publishrules.Media { m := video(1080, 1920, 10, 1); m.Net = "tiktok"; return m }()}},
		},
		{
			name: "YouTube: long, and longer than any",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"youtube"}, Media: []publishrules.Media{video(1920, 1080, 13*3600, 1)}},
			want: []want{
				{publishrules.Error, "youtube", "media[0] (clip.mp4)", "video.seconds", "13h0m0s", "at most 12h0m0s", ytLength},
				{publishrules.Warning, "youtube", "media[0] (clip.mp4)", "video.seconds", "13h0m0s", "at most 15m0s", ytLength},
			},
		},
		{
			name: "an unknown network and a media that could not be probed",
			post: publishrules.Post{Type: "MEDIA", Networks: []string{"myspace", "facebook"}, Media: []publishrules.Media{{Name: "x.jpg"}}},
			want: []want{
				{publishrules.Warning, "", "media[0] (x.jpg)", "media.probe", "", "", ""},
				{publishrules.Warning, "myspace", "post", "network", "myspace", "a network in the rules table", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []want
			for _, f := range rules.Check(tt.post) {
				got = append(got, want{f.Severity, f.Network, f.Item, f.Rule, f.Value, f.Limit, f.Source})
				if f.Message == "" || (f.Network != "" && !strings.Contains(f.Message, f.Network)) {
					t.Errorf("finding %+v has a message that does not name its network", f)
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("findings:\n%s\nwant:\n%s", show(got), show(tt.want))
			}
		})
	}
}

func show(ws []want) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "  %+v\n", w)
	}
	return b.String()
}

// Errors keeps only what stops the post.
func TestErrors(t *testing.T) {
	t.Parallel()
	fs := publishrules.Default().Check(publishrules.Post{Type: "REEL", Networks: []string{"instagram", "tiktok"},
		Media: []publishrules.Media{video(1920, 1080, 2, 1)}})
	errs := publishrules.Errors(fs)
	if len(errs) != 1 || errs[0].Rule != "video.seconds" || len(fs) <= len(errs) {
		t.Fatalf("errors %+v of %+v", errs, fs)
	}
	if !strings.Contains(errs[0].Message, "media[0] (clip.mp4) on instagram: the duration is 2s; Instagram REEL takes 3s to 15m0s") {
		t.Errorf("message %q", errs[0].Message)
	}
}

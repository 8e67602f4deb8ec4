package tasks

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

func TestPostContentValidation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	idx := func(i int) *int { return &i }
	yes := true
	cards := func(n int) []CarouselCard {
		var cs []CarouselCard
		for i := range n {
			cs = append(cs, CarouselCard{Link: "https://shop.example/" + string(rune('a'+i)), Title: "card"})
		}
		return cs
	}
	media := func(typ string) Request {
		return Request{Media: []MediaSource{{Source: "a.jpg"}}, Action: ActionPublishNow,
			Post: &PostSpec{Type: typ, ProfileIDs: []string{"p1"}, Caption: "hello"}}
	}
	status := func() Request {
		return Request{Action: ActionPublishNow, Post: &PostSpec{Type: TypeStatus, ProfileIDs: []string{"p1"}, Caption: "words"}}
	}
	link := func() Request {
		return Request{Action: ActionPublishNow, Post: &PostSpec{Type: TypeLink, ProfileIDs: []string{"p1"},
			Links: []LinkSpec{{URL: "https://example.com/post", Title: "Read this"}}}}
	}
	tests := []struct {
		name   string
		req    func() Request
		fields []string // problems expected, by field; none means valid
	}{
		{"per-network captions beside the default", func() Request {
			r := media(TypeMedia)
			r.Post.Captions = []CaptionFor{{Net: "instagram", Text: "#insta", FirstComment: "more"}, {Net: "linkedin", Text: "Dear network"}}
			return r
		}, nil},
		{"per-network captions alone", func() Request {
			r := media(TypeMedia)
			r.Post.Caption = ""
			r.Post.Captions = []CaptionFor{{Net: "facebook", Text: "fb"}}
			return r
		}, nil},
		{"a caption without a network", func() Request {
			r := media(TypeMedia)
			r.Post.Captions = []CaptionFor{{Text: "x"}}
			return r
		}, []string{"post.captions[0].net"}},
		{"a caption for an unknown network", func() Request {
			r := media(TypeMedia)
			r.Post.Captions = []CaptionFor{{Net: "myspace", Text: "x"}}
			return r
		}, []string{"post.captions[0].net"}},
		{"two captions for one network", func() Request {
			r := media(TypeMedia)
			r.Post.Captions = []CaptionFor{{Net: "tiktok", Text: "x"}, {Net: "tiktok", Text: "y"}}
			return r
		}, []string{"post.captions[1].net"}},
		{"an empty per-network caption", func() Request {
			r := media(TypeMedia)
			r.Post.Captions = []CaptionFor{{Net: "tiktok", Text: " "}}
			return r
		}, []string{"post.captions[0].text"}},
		{"a per-network caption with a NUL", func() Request {
			r := media(TypeMedia)
			r.Post.Captions = []CaptionFor{{Net: "tiktok", Text: "a\x00"}}
			return r
		}, []string{"post.captions[0].text"}},
		{"media for one network", func() Request {
			r := media(TypeMedia)
			r.Media = append(r.Media, MediaSource{Source: "b.mp4", Net: "tiktok"})
			return r
		}, nil},
		{"media for an unknown network", func() Request {
			r := media(TypeMedia)
			r.Media[0].Net = "Instagram"
			return r
		}, []string{"media[0].net"}},
		{"tiktok disclosure flags", func() Request {
			r := media(TypeMedia)
			r.Post.TikTok = &swonkie.TikTokOptions{IsBrandedContent: &yes, IsAiGenerated: &yes, Title: "t"}
			return r
		}, nil},
		{"a tiktok title too long", func() Request {
			r := media(TypeMedia)
			r.Post.TikTok = &swonkie.TikTokOptions{Title: strings.Repeat("t", MaxOptionTextRunes+1)}
			return r
		}, []string{"post.tiktok.title"}},
		{"a carousel of three cards, one with an image", func() Request {
			r := media(TypeMedia)
			r.Media = append(r.Media, MediaSource{Source: "card.jpg"})
			r.Post.Facebook = &FacebookSpec{Carousels: cards(3), CarouselEndCard: &yes}
			r.Post.Facebook.Carousels[0].MediaIndex = idx(1)
			return r
		}, nil},
		{"a carousel of one card", func() Request {
			r := media(TypeMedia)
			r.Post.Facebook = &FacebookSpec{Carousels: cards(1)}
			return r
		}, []string{"post.facebook.carousels"}},
		{"a carousel on a link post", func() Request {
			r := link()
			r.Post.Facebook = &FacebookSpec{Carousels: cards(2)}
			return r
		}, []string{"post.facebook.carousels"}},
		{"a carousel card without a title or a link", func() Request {
			r := media(TypeMedia)
			r.Post.Facebook = &FacebookSpec{Carousels: cards(2)}
			r.Post.Facebook.Carousels[1].Title, r.Post.Facebook.Carousels[1].Link = "", "shop.example"
			return r
		}, []string{"post.facebook.carousels[1].title", "post.facebook.carousels[1].link"}},
		{"a carousel card naming no item", func() Request {
			r := media(TypeMedia)
			r.Post.Facebook = &FacebookSpec{Carousels: cards(2)}
			r.Post.Facebook.Carousels[0].MediaIndex = idx(5)
			return r
		}, []string{"post.facebook.carousels[0].mediaIndex"}},
		{"a lower-case call to action", func() Request {
			r := media(TypeMedia)
			r.Post.Facebook = &FacebookSpec{Carousels: cards(2)}
			r.Post.Facebook.Carousels[0].CallToAction = "learn more"
			return r
		}, []string{"post.facebook.carousels[0].callToAction"}},
		{"every item a card's", func() Request {
			r := media(TypeMedia)
			r.Post.Facebook = &FacebookSpec{Carousels: cards(2)}
			r.Post.Facebook.Carousels[0].MediaIndex = idx(0)
			return r
		}, []string{"media"}},
		{"a card's item with a network", func() Request {
			r := media(TypeMedia)
			r.Media = append(r.Media, MediaSource{Source: "card.jpg", Net: "facebook"})
			r.Post.Facebook = &FacebookSpec{Carousels: cards(2)}
			r.Post.Facebook.Carousels[0].MediaIndex = idx(1)
			return r
		}, []string{"media[1].net"}},
		{"a status post", status, nil},
		{"a status post with per-network captions only", func() Request {
			r := status()
			r.Post.Caption = ""
			r.Post.Captions = []CaptionFor{{Net: "linkedin", Text: "words"}}
			return r
		}, nil},
		{"a status post without text", func() Request { r := status(); r.Post.Caption = ""; return r }, []string{"post.caption"}},
		{"a status post with media", func() Request {
			r := status()
			r.Media = []MediaSource{{Source: "a.jpg"}}
			return r
		}, []string{"media"}},
		{"a link post", link, nil},
		{"a link post with a preview", func() Request {
			r := link()
			r.Media = []MediaSource{{Source: "preview.jpg"}}
			r.Post.Links[0].MediaIndex = idx(0)
			return r
		}, nil},
		{"a link per network", func() Request {
			r := link()
			r.Post.Links = append(r.Post.Links, LinkSpec{URL: "https://example.com/li", Net: "linkedin"})
			return r
		}, nil},
		{"two links for every network", func() Request {
			r := link()
			r.Post.Links = append(r.Post.Links, LinkSpec{URL: "https://example.com/2"})
			return r
		}, []string{"post.links[1].net"}},
		{"a link post without links", func() Request { r := link(); r.Post.Links = nil; return r }, []string{"post.links"}},
		{"a link that is not a URL", func() Request { r := link(); r.Post.Links[0].URL = "example.com"; return r }, []string{"post.links[0].url"}},
		{"a link post with media that is no preview", func() Request {
			r := link()
			r.Media = []MediaSource{{Source: "a.jpg"}}
			return r
		}, []string{"media[0]"}},
		{"one item the preview of two links", func() Request {
			r := link()
			r.Media = []MediaSource{{Source: "preview.jpg"}}
			r.Post.Links[0].MediaIndex = idx(0)
			r.Post.Links = append(r.Post.Links, LinkSpec{URL: "https://example.com/li", Net: "linkedin", MediaIndex: idx(0)})
			return r
		}, []string{"post.links[1].mediaIndex"}},
		{"links on a media post", func() Request {
			r := media(TypeMedia)
			r.Post.Links = []LinkSpec{{URL: "https://a.example"}}
			return r
		}, []string{"post.links"}},
		{"a media post without media", func() Request { r := media(TypeMedia); r.Media = nil; return r }, []string{"media"}},
		{"labels by name", func() Request {
			r := media(TypeMedia)
			r.Post.Labels = []string{"Summer 2026", " Brand X "}
			return r
		}, nil},
		{"a label name too long", func() Request {
			r := media(TypeMedia)
			r.Post.Labels = []string{strings.Repeat("é", swonkie.MaxLabelName+1)}
			return r
		}, []string{"post.labels[0]"}},
		{"an empty label name", func() Request { r := media(TypeMedia); r.Post.Labels = []string{"  "}; return r }, []string{"post.labels[0]"}},
		{"a label named twice", func() Request {
			r := media(TypeMedia)
			r.Post.Labels = []string{"a", " a"}
			return r
		}, []string{"post.labels[1]"}},
		{"too many labels", func() Request {
			r := media(TypeMedia)
			for i := range MaxLabels + 1 {
				r.Post.Labels = append(r.Post.Labels, strings.Repeat("l", i+1))
			}
			return r
		}, []string{"post.labels"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := tt.req()
			r.normalize()
			err := r.validate(now, time.Minute, nil, nil, nil)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			got := map[string]bool{}
			for _, p := range ve.Problems {
				got[p.Field] = true
			}
			for _, f := range tt.fields {
				if !got[f] {
					t.Errorf("no problem reported for %s; got %v", f, ve.Problems)
				}
			}
			if len(ve.Problems) != len(tt.fields) {
				t.Errorf("got %d problems, want %d: %v", len(ve.Problems), len(tt.fields), ve.Problems)
			}
		})
	}
}

// What each network gets, as pre-flight reads it: its own caption and
// files where it has them, the shared ones elsewhere; previews and card
// images in no group.
func TestWhatEachNetworkGets(t *testing.T) {
	t.Parallel()
	one := 1
	r := Request{
		Media: []MediaSource{{Source: "photo.jpg"}, {Source: "card.jpg"}, {Source: "clip.mp4", Net: "tiktok"}, {Source: "more.jpg"}},
		Post: &PostSpec{Caption: "All", FirstComment: "c", Captions: []CaptionFor{{Net: "instagram", Text: "IG"}},
			Facebook: &FacebookSpec{Carousels: []CarouselCard{{MediaIndex: &one}}}},
	}
	if text, comment := r.Post.CaptionFor("instagram"); text != "IG" || comment != "" {
		t.Errorf("instagram gets %q, %q", text, comment)
	}
	if text, comment := r.Post.CaptionFor("facebook"); text != "All" || comment != "c" {
		t.Errorf("facebook gets %q, %q", text, comment)
	}
	for net, want := range map[string][]int{"tiktok": {2}, "facebook": {0, 3}, "instagram": {0, 3}} {
		if got := r.MediaFor(net); !slices.Equal(got, want) {
			t.Errorf("%s gets media %v, want %v", net, got, want)
		}
	}
}

package tasks

import (
	"errors"
	"strings"
	"testing"
)

func TestDecodeRequestRefusesDuplicateKeys(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string // "" means accepted
	}{
		{"one action", `{"media":[{"source":"a.jpg"}],"postId":"p1","action":"draft"}`, ""},
		{"action twice", `{"media":[{"source":"a.jpg"}],"postId":"p1","action":"publishNow","action":"draft"}`, `duplicate key "action"`},
		{"same field in another case", `{"media":[{"source":"a.jpg"}],"postId":"p1","action":"draft","Action":"publishNow"}`, `duplicate key "Action"`},
		{"nested in media", `{"media":[{"source":"a.jpg","source":"b.jpg"}],"postId":"p1"}`, `duplicate key "source" in media[0]`},
		{"nested in post", `{"media":[{"source":"a.jpg"}],"post":{"caption":"a","caption":"b","profileIds":["x"]}}`, `duplicate key "caption" in post`},
		{"same key in sibling objects", `{"media":[{"source":"a.jpg"},{"source":"b.jpg"}],"postId":"p1"}`, ""},
		{"malformed is still described by the decoder", `{"action":"draft",`, "malformed JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := DecodeRequestBytes([]byte(tt.doc))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if len(req.Media) == 0 {
					t.Fatalf("decoded %+v: media lost", req)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted as %+v, want an error naming %s", req, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
		})
	}
}

// Unknown fields are refused with the path of the field, at any depth,
// option objects included.
func TestDecodeRequestNamesUnknownFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, doc, path string
	}{
		{"top level", `{"media":[],"colour":"red"}`, "colour"},
		{"in a media item", `{"media":[{"source":"a.jpg"},{"source":"b.jpg","size":3}],"postId":"p"}`, "media[1].size"},
		{"a tiktok option Swonkie does not document", `{"media":[],"post":{"type":"STATUS","profileIds":["p"],"tiktok":{"isBrandedContent":true,"isPaid":true}}}`, "post.tiktok.isPaid"},
		{"in a carousel card", `{"media":[],"post":{"facebook":{"carousels":[{"link":"https://a.b","title":"t"},{"link":"https://a.b","title":"t","colour":"red"}]}}}`, "post.facebook.carousels[1].colour"},
		{"in a per-network caption", `{"media":[],"post":{"captions":[{"net":"instagram","text":"x","plainText":"x"}]}}`, "post.captions[0].plainText"},
		{"in a link", `{"media":[],"post":{"links":[{"url":"https://a.b","link":"https://a.b"}]}}`, "post.links[0].link"},
		{"in the webhook", `{"media":[],"postId":"p","webhook":{"url":"https://h.example","secret":"x"}}`, "webhook.secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeRequestBytes([]byte(tt.doc))
			var uf *UnknownFieldError
			if !errors.As(err, &uf) || uf.Path != tt.path || uf.Problem().Field != tt.path {
				t.Fatalf("error %v, want an unknown field at %s", err, tt.path)
			}
			if !strings.Contains(err.Error(), tt.path) && strings.Contains(tt.path, ".") {
				t.Errorf("error %q does not name %s", err, tt.path)
			}
		})
	}
	// Known fields in any case, and every option Swonkie documents, pass.
	doc := `{"media":[{"source":"a.mp4","net":"tiktok"}],"Action":"draft","post":{"type":"MEDIA","profileIds":["p"],"caption":"c",
		"captions":[{"net":"instagram","text":"i","firstComment":"f"}],
		"tiktok":{"title":"t","autoAddMusic":false,"disableComments":true,"disableDuet":true,"disableStitch":true,"isBrandedContent":true,"isBrandOrganic":false,"isAiGenerated":true},
		"instagram":{"shareToFeed":true},"linkedIn":{"documentTitle":"d"},
		"facebook":{"carouselEndCard":true,"carousels":[{"link":"https://a.b","title":"t","description":"d","mediaIndex":0,"callToAction":"NO_BUTTON"}]},
		"labels":["Summer"],"labelIds":["TGFiZWw="],"publishAt":"2030-01-01T00:00:00Z"}}`
	req, err := DecodeRequestBytes([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	if req.Post.TikTok == nil || req.Post.TikTok.IsAiGenerated == nil || !*req.Post.TikTok.IsAiGenerated || req.Media[0].Net != "tiktok" ||
		req.Post.Captions[0].Net != "instagram" || *req.Post.Facebook.Carousels[0].MediaIndex != 0 || req.Post.Labels[0] != "Summer" {
		t.Fatalf("decoded %+v", req.Post)
	}
}

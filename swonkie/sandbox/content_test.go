package sandbox_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// fourNetworks is a workspace with one healthy profile on each network
// that has an option object: facebook, instagram, linkedin, tiktok.
func fourNetworks() []swonkie.Profile {
	return []swonkie.Profile{
		{Name: "FB", Username: "fb", Net: swonkie.Network{Name: "Facebook", Code: "facebook"}, StatusLevel: swonkie.StatusOK},
		{Name: "IG", Username: "ig", Net: swonkie.Network{Name: "Instagram", Code: "instagram"}, StatusLevel: swonkie.StatusOK},
		{Name: "LI", Username: "li", Net: swonkie.Network{Name: "LinkedIn", Code: "linkedin"}, StatusLevel: swonkie.StatusOK},
		{Name: "TT", Username: "tt", Net: swonkie.Network{Name: "TikTok", Code: "tiktok"}, StatusLevel: swonkie.StatusOK},
	}
}

// TestEveryFieldRoundTrips: what a post is given — per-network captions
// and first comments, per-network media groups, every option of every
// network's object, labels — GET /posts/{id} answers unchanged, and so
// does a post that publishes.
func TestEveryFieldRoundTrips(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Profiles: fourNetworks()})
	img, card := e.readyMedia(testmedia.PNG(4, 4, 0)), e.readyMedia(testmedia.PNG(5, 5, 1))
	video := e.readyMedia(mediaBytes(t, "clip.mp4"))
	var label swonkie.Label
	e.do(req{method: http.MethodPost, path: "/v2/labels", body: map[string]string{"name": "brand"}}).decode(t, &label)

	net := func(n string) *string { return &n }
	yes, no := ptr(true), ptr(false)
	in := swonkie.PostInput{
		Type:       swonkie.PostMedia,
		ProfileIDs: []string{e.ok[0].ID, e.ok[1].ID, e.ok[2].ID, e.ok[3].ID},
		PublishAt:  swonkie.NewTime(e.s.Now().Add(time.Hour).Truncate(time.Millisecond)),
		Captions: []swonkie.Caption{
			{PlainText: "for everyone", FirstComment: &swonkie.Comment{PlainText: "first!"}},
			{PlainText: "insta words #tag", Net: net("instagram")},
			{PlainText: "tiktok words", FirstComment: &swonkie.Comment{PlainText: "tt comment"}, Net: net("tiktok")},
		},
		Medias: []swonkie.MediaGroup{
			{MediaFiles: []swonkie.MediaFile{{MediaLibID: img}}},
			{MediaFiles: []swonkie.MediaFile{{MediaLibID: video}}, Net: net("tiktok")},
		},
		Facebook: &swonkie.FacebookOptions{CarouselEndCard: no, Carousels: []swonkie.CarouselCard{
			{Link: "https://example.com/1", Title: "One", Description: "first card", MediaLibID: card, CallToAction: swonkie.CallToActionNoButton},
			{Link: "https://example.com/2", Title: "Two"},
			{Link: "https://example.com/3", Title: "Three", Description: "third"},
		}},
		Instagram: &swonkie.InstagramOptions{ShareToFeed: yes},
		LinkedIn:  &swonkie.LinkedInOptions{DocumentTitle: "Q3 report"},
		TikTok: &swonkie.TikTokOptions{Title: "clip", AutoAddMusic: no, DisableComments: yes, DisableDuet: no, DisableStitch: yes,
			IsBrandedContent: yes, IsBrandOrganic: no, IsAiGenerated: yes},
		LabelIDs: []string{label.ID},
	}
	p := e.createPost(in)
	got := e.getPost(p.ID)
	want := swonkie.Post{Captions: in.Captions, Medias: in.Medias, Facebook: in.Facebook, Instagram: in.Instagram,
		LinkedIn: in.LinkedIn, TikTok: in.TikTok, LabelIDs: in.LabelIDs}
	echoed := swonkie.Post{Captions: got.Captions, Medias: got.Medias, Facebook: got.Facebook, Instagram: got.Instagram,
		LinkedIn: got.LinkedIn, TikTok: got.TikTok, LabelIDs: got.LabelIDs}
	if !reflect.DeepEqual(echoed, want) {
		a, _ := json.Marshal(want)
		b, _ := json.Marshal(echoed)
		t.Fatalf("GET /posts/{id} changed the post:\nsent %s\ngot  %s", a, b)
	}
	if got.Type != swonkie.PostMedia || !got.PublishAt.Equal(in.PublishAt.Time) || len(got.Profiles) != 4 {
		t.Fatalf("post head: %+v", got)
	}
	// Falses survive as falses, not as absent fields.
	r := e.get("/v2/posts/" + esc(p.ID))
	for _, f := range []string{`"carouselEndCard":false`, `"isBrandOrganic":false`, `"disableDuet":false`, `"net":null`, `"net":"tiktok"`} {
		if !strings.Contains(r.String(), f) {
			t.Errorf("answer lacks %s: %s", f, r.body)
		}
	}

	// The typed client reads the same, and the post publishes as given.
	c, err := swonkie.New(swonkie.Config{BaseURL: e.r.BaseURL, APIID: testID, APIKey: testKey, RateLimit: rate.Inf, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if v, err := c.ValidatePost(ctx, p.ID); err != nil || !v.Valid {
		t.Fatalf("validate: %+v, %v", v, err)
	}
	if _, err := c.ChangeStage(ctx, p.ID, swonkie.ActionPublishNow); err != nil {
		t.Fatal(err)
	}
	out, err := c.GetPost(ctx, p.ID)
	if err != nil || !out.PublishedEverywhere() || !reflect.DeepEqual(out.TikTok, in.TikTok) || len(out.ReferencedMediaIDs()) != 3 {
		t.Fatalf("published post: %+v, %v", out, err)
	}
}

// TestPerNetworkRules: how per-network items and options are checked.
// An item for one network replaces the item for every network there;
// items for networks the post does not target are kept but not checked;
// Instagram ignores captions on stories; one item per network.
func TestPerNetworkRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{Profiles: fourNetworks(), PostChecks: sandbox.PostChecksAtCreate})
	fb, ig, tt := e.ok[0].ID, e.ok[1].ID, e.ok[3].ID
	img := e.readyMedia(testmedia.PNG(4, 4, 0))
	video := e.readyMedia(mediaBytes(t, "clip.mp4"))
	long := strings.Repeat("a", 2201) // over instagram's and tiktok's 2200
	cap := func(text string, net any) map[string]any { return map[string]any{"plainText": text, "net": net} }
	group := func(id string, net any) map[string]any {
		return map[string]any{"mediaFiles": []map[string]any{{"mediaLibId": id}}, "net": net}
	}
	post := func(typ string, profiles []string, kv ...any) map[string]any {
		b := map[string]any{"type": typ, "profileIds": profiles}
		for i := 0; i < len(kv); i += 2 {
			b[kv[i].(string)] = kv[i+1]
		}
		return b
	}
	cards := func(n int, cta string) map[string]any {
		var cs []map[string]any
		for i := range n {
			c := map[string]any{"link": fmt.Sprintf("https://example.com/%d", i), "title": fmt.Sprint("card ", i)}
			if cta != "" {
				c["callToAction"] = cta
			}
			cs = append(cs, c)
		}
		return map[string]any{"carousels": cs}
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string // "" = valid
		msg   string
	}{
		{"instagram's own caption replaces a long shared one", post("MEDIA", []string{fb, ig},
			"medias", []any{group(img, nil)}, "captions", []any{cap(long, nil), cap("short", "instagram")}), "", ""},
		{"the shared caption still reaches instagram without its own", post("MEDIA", []string{fb, ig},
			"medias", []any{group(img, nil)}, "captions", []any{cap(long, nil), cap("short", "facebook")}), "captions[0].plainText", "instagram allows 2200"},
		{"a caption for a network not targeted is not checked", post("MEDIA", []string{fb},
			"medias", []any{group(img, nil)}, "captions", []any{cap("x", nil), cap(long, "instagram")}), "", ""},
		{"instagram ignores captions on stories", post("STORY", []string{ig},
			"medias", []any{group(img, nil)}, "captions", []any{cap(long, nil)}), "", ""},
		{"but not on media posts", post("MEDIA", []string{ig},
			"medias", []any{group(img, nil)}, "captions", []any{cap(long, nil)}), "captions[0].plainText", "instagram allows 2200"},
		{"tiktok's own video replaces a shared image", post("MEDIA", []string{fb, tt},
			"medias", []any{group(img, nil), group(video, "tiktok")}, "captions", []any{cap("x", nil)}), "", ""},
		{"tiktok takes the shared image without its own group", post("MEDIA", []string{fb, tt},
			"medias", []any{group(img, nil)}, "captions", []any{cap("x", nil)}), "medias[0].mediaFiles[0].mediaLibId", "tiktok takes videos only"},
		{"two captions for one network", post("STATUS", []string{fb},
			"captions", []any{cap("a", "facebook"), cap("b", "facebook")}), "captions[1].net", "a second caption for facebook"},
		{"two captions for every network", post("STATUS", []string{fb},
			"captions", []any{cap("a", nil), cap("b", nil)}), "captions[1].net", "a second caption for every network"},
		{"two media groups for one network", post("MEDIA", []string{fb},
			"medias", []any{group(img, "facebook"), group(img, "facebook")}), "medias[1].net", "a second media group"},
		{"two links for every network", post("LINK", []string{fb},
			"links", []any{map[string]any{"link": "https://a.b"}, map[string]any{"link": "https://c.d"}}), "links[1].net", "a second link"},
		{"a link for facebook and one for linkedin", post("LINK", []string{fb, e.ok[2].ID},
			"links", []any{map[string]any{"link": "https://a.b", "net": "facebook"}, map[string]any{"link": "https://c.d", "net": "linkedin"}}), "", ""},
		{"shareToFeed on a media post is kept, not refused", post("MEDIA", []string{ig},
			"medias", []any{group(img, nil)}, "instagram", map[string]any{"shareToFeed": true}), "", ""},
		{"a carousel of three cards", post("MEDIA", []string{fb}, "medias", []any{group(img, nil)}, "facebook", cards(3, "NO_BUTTON")), "", ""},
		{"a carousel of one card", post("MEDIA", []string{fb}, "medias", []any{group(img, nil)}, "facebook", cards(1, "")), "facebook.carousels", "at least 2"},
		{"a call to action the docs do not show", post("MEDIA", []string{fb}, "medias", []any{group(img, nil)}, "facebook", cards(2, "LEARN_MORE")),
			"facebook.carousels[0].callToAction", "must be one of NO_BUTTON"},
		{"a carousel on a link post", post("LINK", []string{fb}, "links", []any{map[string]any{"link": "https://a.b"}}, "facebook", cards(2, "")),
			"facebook.carousels", "only valid on MEDIA"},
		{"an unknown tiktok option", post("MEDIA", []string{tt}, "medias", []any{group(video, nil)}, "tiktok", map[string]any{"isPaid": true}),
			"isPaid", "should not exist"},
		{"a status post with a link", post("STATUS", []string{fb}, "captions", []any{cap("x", nil)}, "links", []any{map[string]any{"link": "https://a.b"}}),
			"links", "only LINK posts"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: http.MethodPost, path: "/v2/posts", body: tt.body})
			if tt.field == "" {
				expect(t, r, http.StatusCreated)
				return
			}
			expect(t, r, http.StatusBadRequest)
			if b := r.errorBody(t); !b.hasProblem(tt.field, tt.msg) {
				t.Fatalf("no problem %s: …%s…: %s", tt.field, tt.msg, r.body)
			}
		})
	}

	// A wider enum is a mode.
	wide := start(t, sandbox.Options{CallToActions: []string{"NO_BUTTON", "LEARN_MORE"}})
	m := wide.readyMedia(testmedia.PNG(4, 4, 0))
	b := wide.mediaPost("x", m)
	b["facebook"] = cards(2, "LEARN_MORE")
	wide.createPost(b)
}

// TestLabelPages: labels page as posts do by default; LabelListWhole
// answers them all at once and refuses paging. The client reads every
// label either way.
func TestLabelPages(t *testing.T) {
	t.Parallel()
	for _, shape := range sandbox.LabelListShapes {
		t.Run(string(shape), func(t *testing.T) {
			t.Parallel()
			e := start(t, sandbox.Options{LabelList: shape})
			for i := range 45 {
				expect(t, e.do(req{method: http.MethodPost, path: "/v2/labels", body: map[string]string{"name": fmt.Sprint("label ", i)}}), http.StatusCreated)
			}
			var page struct {
				Data []swonkie.Label
				Meta *struct {
					Page, Limit, Total int
					HasMore            bool
				}
			}
			r := e.get("/v2/labels")
			expect(t, r, http.StatusOK)
			r.decode(t, &page)
			switch shape {
			case sandbox.LabelListPaged:
				if len(page.Data) != 20 || page.Meta == nil || page.Meta.Total != 45 || !page.Meta.HasMore || page.Data[0].Name != "label 0" {
					t.Fatalf("first page: %s", r.body)
				}
				r = e.get("/v2/labels?page=3")
				r.decode(t, &page)
				if len(page.Data) != 5 || page.Meta.HasMore || page.Data[4].Name != "label 44" {
					t.Fatalf("last page: %s", r.body)
				}
				expect(t, e.get("/v2/labels?sort=name"), http.StatusBadRequest)
				expect(t, e.get("/v2/labels?limit=101"), http.StatusBadRequest)
			case sandbox.LabelListWhole:
				if len(page.Data) != 45 || page.Meta != nil {
					t.Fatalf("whole list: %s", r.body)
				}
				expect(t, e.get("/v2/labels?page=2"), http.StatusBadRequest)
			}
			c, err := swonkie.New(swonkie.Config{BaseURL: e.r.BaseURL, APIID: testID, APIKey: testKey, RateLimit: rate.Inf, Timeout: 10 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			labels, err := c.ListLabels(context.Background())
			if err != nil || len(labels) != 45 || labels[44].Name != "label 44" {
				t.Fatalf("ListLabels: %d labels, %v", len(labels), err)
			}
		})
	}
}

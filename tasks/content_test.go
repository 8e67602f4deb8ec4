package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// Everything a post can say reaches Swonkie intact, against the strict
// sandbox: per-network captions and media, option objects, LINK and
// STATUS posts, labels by name, review.

// fourNetworks is a workspace with a healthy profile on each network that
// has an option object, in this order: facebook, instagram, linkedin,
// tiktok.
func fourNetworks(c *setupConfig) {
	c.sandbox.Profiles = []swonkie.Profile{
		{Name: "FB", Username: "fb", Net: swonkie.Network{Name: "Facebook", Code: "facebook"}, StatusLevel: swonkie.StatusOK},
		{Name: "IG", Username: "ig", Net: swonkie.Network{Name: "Instagram", Code: "instagram"}, StatusLevel: swonkie.StatusOK},
		{Name: "LI", Username: "li", Net: swonkie.Network{Name: "LinkedIn", Code: "linkedin"}, StatusLevel: swonkie.StatusOK},
		{Name: "TT", Username: "tt", Net: swonkie.Network{Name: "TikTok", Code: "tiktok"}, StatusLevel: swonkie.StatusOK},
	}
}

// video writes a short MP4 into the bundle's media root.
func (b *bundle) video(name string) string {
	b.t.Helper()
	if err := ffmpegtest.Require(); err != nil {
		b.t.Fatal(err)
	}
	if err := ffmpegtest.MakeVideo(filepath.Join(b.root, name), ffmpegtest.Video{Width: 320, Height: 568, Seconds: 1}); err != nil {
		b.t.Fatal(err)
	}
	return name
}

// post reads the pipeline's post back from Swonkie.
func (b *bundle) post(rec *Record) *swonkie.Post {
	b.t.Helper()
	p, err := b.api.GetPost(context.Background(), rec.PostID)
	if err != nil {
		b.t.Fatalf("GET /posts/%s: %v", rec.PostID, err)
	}
	return p
}

func mustSucceed(t *testing.T, rec *Record) {
	t.Helper()
	if rec.State != StateSucceeded {
		t.Fatalf("pipeline %s ended %s", rec.ID, dump(rec))
	}
}

func ptrTo[T any](v T) *T { return &v }

// A MEDIA post with captions for two networks beside the default one,
// TikTok's own video and its disclosure flags arrives with each field as
// given, read back through GET /posts/{id}, and publishes.
func TestPerNetworkCaptionsAndTikTokFlagsArriveIntact(t *testing.T) {
	t.Parallel()
	b := setup(t, fourNetworks)
	clip := b.video("clip.mp4")
	tiktok := &swonkie.TikTokOptions{Title: "behind the scenes", AutoAddMusic: ptrTo(false), DisableComments: ptrTo(false),
		DisableDuet: ptrTo(true), DisableStitch: ptrTo(true),
		IsBrandedContent: ptrTo(true), IsBrandOrganic: ptrTo(false), IsAiGenerated: ptrTo(true)}
	req := Request{
		Media: []MediaSource{{Source: "a.png"}, {Source: clip, Net: "tiktok"}},
		Post: &PostSpec{ProfileIDs: b.profiles, Caption: "For everyone", FirstComment: "first!",
			Captions: []CaptionFor{
				{Net: "instagram", Text: "For Instagram #summer", FirstComment: "link in bio"},
				{Net: "tiktok", Text: "For TikTok"},
			},
			Instagram: &swonkie.InstagramOptions{ShareToFeed: ptrTo(true)},
			LinkedIn:  &swonkie.LinkedInOptions{DocumentTitle: "Summer report"},
			TikTok:    tiktok},
		Action: ActionPublishNow,
	}
	rec := b.wait(b.publish(req).ID)
	mustSucceed(t, rec)
	got := b.post(rec)
	want := []swonkie.Caption{
		{PlainText: "For everyone", FirstComment: &swonkie.Comment{PlainText: "first!"}},
		{PlainText: "For Instagram #summer", FirstComment: &swonkie.Comment{PlainText: "link in bio"}, Net: ptrTo("instagram")},
		{PlainText: "For TikTok", Net: ptrTo("tiktok")},
	}
	if !reflect.DeepEqual(got.Captions, want) {
		t.Errorf("captions %s, want %s", jsonOf(got.Captions), jsonOf(want))
	}
	if !reflect.DeepEqual(got.TikTok, tiktok) {
		t.Errorf("tiktok %s, want %s", jsonOf(got.TikTok), jsonOf(tiktok))
	}
	if got.Instagram == nil || !*got.Instagram.ShareToFeed || got.LinkedIn == nil || got.LinkedIn.DocumentTitle != "Summer report" {
		t.Errorf("instagram %s, linkedIn %s", jsonOf(got.Instagram), jsonOf(got.LinkedIn))
	}
	wantMedia := []swonkie.MediaGroup{
		{MediaFiles: []swonkie.MediaFile{{MediaLibID: rec.Media[0].MediaID}}},
		{MediaFiles: []swonkie.MediaFile{{MediaLibID: rec.Media[1].MediaID}}, Net: ptrTo("tiktok")},
	}
	if !reflect.DeepEqual(got.Medias, wantMedia) {
		t.Errorf("medias %s, want %s", jsonOf(got.Medias), jsonOf(wantMedia))
	}
	if !got.PublishedEverywhere() || len(rec.Publication) != 4 || rec.PostType != TypeMedia {
		t.Errorf("post %s published=%v, record publication %v, postType %q", got.ID, got.PublishedEverywhere(), rec.Publication, rec.PostType)
	}
	b.assertClean()
}

// A Facebook carousel of three cards (one showing a file of the request)
// publishes; a carousel of one card is refused at enqueue, naming the
// field, and nothing is queued.
func TestFacebookCarousel(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fb := b.profiles[0]
	cards := []CarouselCard{
		{Link: "https://shop.example/a", Title: "Sandals", Description: "Light", MediaIndex: ptrTo(1), CallToAction: swonkie.CallToActionNoButton},
		{Link: "https://shop.example/b", Title: "Hats"},
		{Link: "https://shop.example/c", Title: "Towels", Description: "Soft"},
	}
	req := Request{
		Media: []MediaSource{{Source: "a.png"}, {Source: "b.png"}},
		Post: &PostSpec{ProfileIDs: []string{fb}, Caption: "Summer shop",
			Facebook: &FacebookSpec{Carousels: cards, CarouselEndCard: ptrTo(true)}},
		Action: ActionPublishNow,
	}
	rec := b.wait(b.publish(req).ID)
	mustSucceed(t, rec)
	got := b.post(rec)
	if got.Facebook == nil || len(got.Facebook.Carousels) != 3 || got.Facebook.CarouselEndCard == nil || !*got.Facebook.CarouselEndCard {
		t.Fatalf("facebook %s", jsonOf(got.Facebook))
	}
	if c := got.Facebook.Carousels[0]; c.MediaLibID != rec.Media[1].MediaID || c.Title != "Sandals" || c.CallToAction != "NO_BUTTON" {
		t.Errorf("first card %s, want the media of item 1 (%s)", jsonOf(c), rec.Media[1].MediaID)
	}
	// The card's file is the card's only: the post's media are item 0.
	if ids := got.MediaLibIDs(); !slices.Equal(ids, []string{rec.Media[0].MediaID}) {
		t.Errorf("post media %v, want only item 0", ids)
	}
	if !got.PublishedEverywhere() {
		t.Errorf("carousel post not published: %s", got.Stage)
	}
	b.assertDeleted(rec)
	b.assertClean()

	before := b.sb.Server.Stats().Requests
	one := req
	one.Post = &PostSpec{ProfileIDs: []string{fb}, Caption: "One card", Facebook: &FacebookSpec{Carousels: cards[:1]}}
	_, _, err := b.client.Publish(context.Background(), one)
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Problems) != 1 || ve.Problems[0].Field != "post.facebook.carousels" {
		t.Fatalf("a carousel of one card: %v", err)
	}
	if after := b.sb.Server.Stats().Requests; !reflect.DeepEqual(after, before) {
		t.Errorf("a refused request reached Swonkie: %v → %v", before, after)
	}
}

// A STATUS post and a LINK post (one with a preview file, one without)
// publish; the preview's media is the link's and is cleaned up after.
func TestLinkAndStatusPostsPublish(t *testing.T) {
	t.Parallel()
	b := setup(t)
	fb, li := b.profiles[0], b.profiles[2]
	status := Request{Post: &PostSpec{Type: TypeStatus, ProfileIDs: []string{fb, li}, Caption: "We are open on Sunday",
		Captions: []CaptionFor{{Net: "linkedin", Text: "Our offices open on Sunday."}}}, Action: ActionPublishNow}
	withPreview := Request{Media: []MediaSource{{Source: "c.png"}}, Action: ActionPublishNow,
		Post: &PostSpec{Type: TypeLink, ProfileIDs: []string{fb}, Caption: "Read the story",
			Links: []LinkSpec{{URL: "https://news.example/story", Title: "The story", Description: "All of it", MediaIndex: ptrTo(0)}}}}
	bare := Request{Action: ActionPublishNow, Post: &PostSpec{Type: TypeLink, ProfileIDs: []string{li},
		Links: []LinkSpec{{URL: "https://news.example/other", Net: "linkedin"}}}}
	var recs []*Record
	for _, req := range []Request{status, withPreview, bare} {
		recs = append(recs, b.publish(req))
	}
	for i, r := range recs {
		recs[i] = b.wait(r.ID)
		mustSucceed(t, recs[i])
	}

	st := b.post(recs[0])
	if st.Type != swonkie.PostStatus || len(st.Medias) != 0 || len(st.Captions) != 2 || !st.PublishedEverywhere() || recs[0].PostType != TypeStatus {
		t.Errorf("status post %s", jsonOf(st))
	}
	lp := b.post(recs[1])
	want := []swonkie.Link{{Link: "https://news.example/story", LinkTitle: "The story", LinkDescription: "All of it", MediaLibID: recs[1].Media[0].MediaID}}
	if lp.Type != swonkie.PostLink || !reflect.DeepEqual(lp.Links, want) || len(lp.Medias) != 0 || !lp.PublishedEverywhere() {
		t.Errorf("link post %s, want links %s", jsonOf(lp), jsonOf(want))
	}
	b.assertDeleted(recs[1])
	bp := b.post(recs[2])
	if len(bp.Links) != 1 || bp.Links[0].Net == nil || *bp.Links[0].Net != "linkedin" || len(bp.Captions) != 0 || !bp.PublishedEverywhere() {
		t.Errorf("bare link post %s", jsonOf(bp))
	}
	b.assertClean()
}

// Twenty pipelines naming one new label create it once, even though
// every POST /labels answer is lost; a label that exists is used, not
// made again; every post carries the right ids.
func TestLabelByNameIsCreatedOnceForTwentyPipelines(t *testing.T) {
	t.Parallel()
	b := setup(t, withFaults(sandbox.FaultPlan{"POST /labels": {LostReply: 1}}))
	_, err := b.newAPIClient(b.sb.BaseURL).CreateLabel(context.Background(), "Evergreen")
	if err == nil || !swonkie.IsReplyLost(err) {
		t.Fatalf("the fault plan did not lose the answer: %v", err)
	}
	labels := b.sb.Server.Labels()
	if len(labels) != 1 {
		t.Fatalf("labels before: %+v", labels)
	}
	evergreen := labels[0].ID
	var ids []string
	for i := range 20 {
		req := Request{Action: ActionPublishNow, Post: &PostSpec{Type: TypeStatus, ProfileIDs: b.profiles[:1],
			Caption: fmt.Sprintf("Launch day, note %d", i), Labels: []string{"Launch 2026", "Evergreen"}}}
		ids = append(ids, b.publish(req).ID)
	}
	var launch string
	for _, id := range ids {
		rec := b.wait(id)
		mustSucceed(t, rec)
		if len(rec.LabelIDs) != 2 || rec.LabelIDs[1] != evergreen {
			t.Fatalf("record label ids %v, want [launch, %s]", rec.LabelIDs, evergreen)
		}
		if launch == "" {
			launch = rec.LabelIDs[0]
		}
		if got := b.post(rec).LabelIDs; !slices.Equal(got, []string{launch, evergreen}) {
			t.Fatalf("post labels %v, want [%s %s]", got, launch, evergreen)
		}
	}
	labels = b.sb.Server.Labels()
	names := map[string]int{}
	for _, l := range labels {
		names[l.Name]++
	}
	if len(labels) != 2 || names["Launch 2026"] != 1 || names["Evergreen"] != 1 {
		t.Fatalf("labels after 20 pipelines: %+v", labels)
	}
	st := b.sb.Server.Stats()
	if lost := st.Faults["POST /labels"][sandbox.FaultLostReply]; lost != 2 {
		t.Fatalf("%d lost POST /labels answers, want 2 (ours and the pipelines' one)", lost)
	}
	// Remembered ids spare the look: one list per name, and one more
	// after the create whose answer was lost.
	lists := 0
	for _, n := range st.Requests["GET /labels"] {
		lists += n
	}
	if lists > 3 {
		t.Errorf("%d GET /labels for two names over 20 pipelines, want at most 3", lists)
	}
	t.Logf("20 pipelines, 2 label names: %d GET /labels, %d POST /labels", lists, st.Requests["POST /labels"][0]+st.Requests["POST /labels"][201])
	b.assertClean()
}

// action review leaves the post in TEAM_REVIEW, and the pipeline ends
// succeeded with postStage TEAM_REVIEW and its media kept with the post.
func TestReviewLeavesThePostInTeamReview(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := b.request(ActionReview, "a.png")
	rec := b.wait(b.publish(req).ID)
	mustSucceed(t, rec)
	if rec.PostStage != string(swonkie.StageTeamReview) || rec.Cleanup != CleanupKept || rec.PublishedAt != nil || !rec.Staged {
		t.Fatalf("review ended %s: postStage %s, cleanup %s", dump(rec), rec.PostStage, rec.Cleanup)
	}
	if got := b.post(rec); got.Stage != swonkie.StageTeamReview {
		t.Fatalf("post stage %s", got.Stage)
	}
	if info, _ := b.sb.Server.Media(rec.Media[0].MediaID); info.State != string(swonkie.MediaSuccess) {
		t.Fatalf("the post's media was not kept: %+v", info)
	}
	if !hasEvent(rec, StepAttach, "ok", "teamReview post") {
		t.Fatalf("history does not show the review: %s", dump(rec))
	}
}

// Exactly once without media (docs/design.md, "Posts without media"):
// with a fifth of the create-post answers lost, twenty STATUS and LINK
// pipelines make twenty posts — and so do six pipelines asking for the
// very same STATUS post, which only ownership tells apart.
func TestStatusAndLinkPostsAreMadeOnceWithLostReplies(t *testing.T) {
	t.Parallel()
	b := setup(t, withFaults(sandbox.FaultPlan{"POST /posts": {LostReply: 0.2}}), func(c *setupConfig) { c.sandbox.Seed = 11 })
	var ids []string
	for i := range 20 {
		req := Request{Action: ActionPublishNow, Post: &PostSpec{Type: TypeStatus, ProfileIDs: []string{b.profiles[0], b.profiles[2]},
			Caption: fmt.Sprintf("Status %d", i)}}
		if i%2 == 1 {
			req.Post = &PostSpec{Type: TypeLink, ProfileIDs: b.profiles[:1],
				Links: []LinkSpec{{URL: fmt.Sprintf("https://news.example/%d", i)}}}
		}
		ids = append(ids, b.publish(req).ID)
	}
	same := Request{Action: ActionPublishNow, Post: &PostSpec{Type: TypeStatus, ProfileIDs: b.profiles[:1], Caption: "Same words"}}
	for range 6 {
		ids = append(ids, b.publish(same).ID)
	}
	posts := map[string]string{}
	for _, id := range ids {
		rec := b.wait(id)
		mustSucceed(t, rec)
		if other, ok := posts[rec.PostID]; ok {
			t.Fatalf("pipelines %s and %s share post %s", other, id, rec.PostID)
		}
		posts[rec.PostID] = id
	}
	st := b.sb.Server.Stats()
	if len(st.Posts.LostCreates) < 3 {
		t.Fatalf("only %d create answers lost; the test proves too little", len(st.Posts.LostCreates))
	}
	alive := 0
	for _, p := range b.sb.Server.AllPosts() {
		if !p.Deleted {
			alive++
		}
	}
	if alive != len(ids) || st.Posts.Created != len(ids) {
		t.Fatalf("%d posts created, %d alive, for %d pipelines (%d answers lost)", st.Posts.Created, alive, len(ids), len(st.Posts.LostCreates))
	}
	// The six same posts are alike by design; every other is one of a kind.
	if n := st.Posts.DuplicatePosts(); n != 5 {
		t.Fatalf("%d duplicate posts, want the 5 asked for: %v", n, st.Posts.Duplicates)
	}
	t.Logf("%d create answers lost, %d adopted", len(st.Posts.LostCreates), countAdopted(b, ids))
}

// Six pipelines ask for the very same STATUS post and every create
// answer is lost: each finds posts it cannot tell from its own, owns one
// no other pipeline owns, and six posts are made, not seven, not five.
func TestSameContentPipelinesEachOwnOnePost(t *testing.T) {
	t.Parallel()
	b := setup(t, withFaults(sandbox.FaultPlan{"POST /posts": {LostReply: 1}}))
	same := Request{Action: ActionDraft, Post: &PostSpec{Type: TypeStatus, ProfileIDs: b.profiles[:1], Caption: "Same words"}}
	var ids []string
	for range 6 {
		ids = append(ids, b.publish(same).ID)
	}
	posts := map[string]bool{}
	for _, id := range ids {
		rec := b.wait(id)
		mustSucceed(t, rec)
		if posts[rec.PostID] || !hasEvent(rec, StepAttach, "ok", "adopted post") {
			t.Fatalf("pipeline %s: post %s taken twice, or not adopted: %s", id, rec.PostID, dump(rec))
		}
		posts[rec.PostID] = true
	}
	st := b.sb.Server.Stats()
	if st.Posts.Created != 6 || len(st.Posts.LostCreates) != 6 {
		t.Fatalf("%d posts created, %d answers lost; want 6 and 6", st.Posts.Created, len(st.Posts.LostCreates))
	}
}

func countAdopted(b *bundle, ids []string) int {
	n := 0
	for _, id := range ids {
		rec, err := b.client.Get(context.Background(), id)
		if err == nil && hasEvent(rec, StepAttach, "ok", "adopted post") {
			n++
		}
	}
	return n
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

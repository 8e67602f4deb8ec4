package tasks

import (
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/mediaflow/mediaflow/swonkie"
)

// What a post says: its captions (one for every network, others per
// network), its media grouped by network, a LINK post's links, the
// network option objects and its labels. This file checks a PostSpec
// against what Swonkie documents (swonkie-api.md §4.5, §5) before anything
// is queued, and turns it into Swonkie's post. Rules a network imposes
// beyond the docs (lengths, counts, formats) are pre-flight's
// (publishrules), which reads the same PostSpec.

// CaptionFor is the caption of one network; it replaces the post's
// caption (and first comment) there.
type CaptionFor struct {
	Net          string `json:"net"`
	Text         string `json:"text"`
	FirstComment string `json:"firstComment,omitempty"`
}

// LinkSpec is a LINK post's link: for every network, or the one Net names.
type LinkSpec struct {
	URL         string `json:"url"`
	Title       string `json:"title,omitempty"`
	Description string `json:"description,omitempty"`
	Net         string `json:"net,omitempty"`
	// MediaIndex names the request's media item shown as the link's
	// preview (0-based). That item is the preview only.
	MediaIndex *int `json:"mediaIndex,omitempty"`
}

// FacebookSpec is the post's facebook object.
type FacebookSpec struct {
	// Carousels are the cards of a Facebook carousel: at least two, on a
	// MEDIA post only.
	Carousels []CarouselCard `json:"carousels,omitempty"`
	// CarouselEndCard appends the page's logo as a last card.
	CarouselEndCard *bool `json:"carouselEndCard,omitempty"`
}

// CarouselCard is one card of a Facebook carousel.
type CarouselCard struct {
	Link        string `json:"link"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
	// MediaIndex names the request's media item shown on the card
	// (0-based). That item is the card's only.
	MediaIndex   *int   `json:"mediaIndex,omitempty"`
	CallToAction string `json:"callToAction,omitempty"`
}

// Limits of a post's parts. The carousel and link limits are Swonkie's
// (§5); the others bound what mediaflow stores.
const (
	MaxTitleRunes       = 200
	MaxDescriptionRunes = 1000
	MaxCarouselCards    = 10
	MaxOptionTextRunes  = 2200
	MaxLabels           = 20
)

// Post types.
const (
	TypeMedia  = string(swonkie.PostMedia)
	TypeStory  = string(swonkie.PostStory)
	TypeReel   = string(swonkie.PostReel)
	TypeLink   = string(swonkie.PostLink)
	TypeStatus = string(swonkie.PostStatus)
)

// textOnly: a post that may come without media (a STATUS post, a LINK post
// without a preview).
func (p *PostSpec) textOnly() bool { return p.Type == TypeStatus || p.Type == TypeLink }

// Previews returns, for each of n media items, where it is shown when it
// is not in the post's media groups: the path of the link it is the
// preview of or the carousel card it is the image of (post.links[0]), ""
// for an ordinary item.
func (p *PostSpec) Previews(n int) []string {
	out := make([]string, n)
	mark := func(i *int, where string) {
		if i != nil && *i >= 0 && *i < n && out[*i] == "" {
			out[*i] = where
		}
	}
	for j, l := range p.Links {
		mark(l.MediaIndex, fmt.Sprintf("post.links[%d]", j))
	}
	if p.Facebook != nil {
		for j, c := range p.Facebook.Carousels {
			mark(c.MediaIndex, fmt.Sprintf("post.facebook.carousels[%d]", j))
		}
	}
	return out
}

type addFunc func(field, format string, args ...any)

// checkNet: a network code is empty (every network) or one Swonkie names.
func checkNet(add addFunc, field, net string) {
	if net != "" && !slices.Contains(swonkie.Networks, net) {
		add(field, "must be one of %s, got %q", strings.Join(swonkie.Networks, ", "), net)
	}
}

// checkText bounds a text and refuses what no post may carry.
func checkText(add addFunc, field, text string, limit int) {
	if utf8.RuneCountInString(text) > limit {
		add(field, "longer than %d characters", limit)
	}
	if msg := unprintable(text); msg != "" {
		add(field, "%s", msg)
	}
}

// checkURL: an absolute http(s) URL within Swonkie's length.
func checkURL(add addFunc, field, raw string) {
	if msg := swonkie.CheckLink(raw); msg != "" {
		add(field, "%s", msg)
	}
}

// check lists every problem of a post with the request's media.
func (p *PostSpec) check(media []MediaSource, add addFunc) {
	switch p.Type {
	case TypeMedia, TypeStory, TypeReel, TypeLink, TypeStatus:
	default:
		add("post.type", "must be MEDIA, STORY, REEL, LINK or STATUS, got %q", p.Type)
	}
	switch n := len(p.ProfileIDs); {
	case n == 0:
		add("post.profileIds", "at least one profile id is required")
	case n > MaxProfiles:
		add("post.profileIds", "at most %d profiles, got %d", MaxProfiles, n)
	}
	for i, id := range p.ProfileIDs {
		if strings.TrimSpace(id) == "" {
			add(fmt.Sprintf("post.profileIds[%d]", i), "empty profile id")
		} else if slices.Index(p.ProfileIDs, id) != i {
			add(fmt.Sprintf("post.profileIds[%d]", i), "profile %q given twice", id)
		}
	}
	p.checkCaptions(add)
	p.checkMedia(media, add)
	p.checkLinks(len(media), add)
	p.checkOptions(len(media), add)
	p.checkLabels(add)
}

func (p *PostSpec) checkCaptions(add addFunc) {
	checkText(add, "post.caption", p.Caption, MaxCaptionRunes)
	checkText(add, "post.firstComment", p.FirstComment, MaxCommentRunes)
	hasText := strings.TrimSpace(p.Caption) != ""
	for i, c := range p.Captions {
		f := fmt.Sprintf("post.captions[%d]", i)
		switch {
		case c.Net == "":
			add(f+".net", "required: the caption for every network is post.caption")
		case slices.IndexFunc(p.Captions, func(o CaptionFor) bool { return o.Net == c.Net }) != i:
			add(f+".net", "a second caption for %s", c.Net)
		default:
			checkNet(add, f+".net", c.Net)
		}
		if strings.TrimSpace(c.Text) == "" {
			add(f+".text", "required")
		}
		hasText = hasText || strings.TrimSpace(c.Text) != ""
		checkText(add, f+".text", c.Text, MaxCaptionRunes)
		checkText(add, f+".firstComment", c.FirstComment, MaxCommentRunes)
	}
	// A story's caption is optional (Instagram ignores it); a LINK post
	// says enough with its link.
	if !hasText && p.Type != TypeStory && p.Type != TypeLink {
		add("post.caption", "required for %s posts (or give post.captions)", p.Type)
	}
}

func (p *PostSpec) checkMedia(media []MediaSource, add addFunc) {
	previews := p.Previews(len(media))
	grouped := 0
	for i, m := range media {
		f := fmt.Sprintf("media[%d]", i)
		switch {
		case previews[i] != "" && m.Net != "":
			add(f+".net", "this item is the media of %s and goes where it does; leave net out", previews[i])
		case previews[i] == "":
			grouped++
		}
	}
	switch p.Type {
	case TypeStatus:
		if len(media) > 0 {
			add("media", "STATUS posts are text only: give no media")
		}
	case TypeLink:
		for i := range media {
			if previews[i] == "" {
				add(fmt.Sprintf("media[%d]", i), "LINK posts take media only as link previews (post.links[].mediaIndex)")
			}
		}
	case TypeMedia, TypeStory, TypeReel:
		if len(media) > 0 && grouped == 0 {
			add("media", "%s posts need a media item that is not a carousel card's", p.Type)
		}
	}
}

// checkIndex: a media index names an item of the request, used once.
func checkIndex(add addFunc, field string, i *int, n int, used map[int]string) {
	if i == nil {
		return
	}
	switch {
	case *i < 0 || *i >= n:
		add(field, "must name an item of media (0 to %d), got %d", n-1, *i)
	case used[*i] != "":
		add(field, "media[%d] is already the media of %s", *i, used[*i])
	default:
		used[*i] = strings.TrimSuffix(field, ".mediaIndex")
	}
}

func (p *PostSpec) checkLinks(n int, add addFunc) {
	if len(p.Links) > 0 && p.Type != TypeLink {
		add("post.links", "only LINK posts take links")
	}
	if len(p.Links) == 0 && p.Type == TypeLink {
		add("post.links", "LINK posts need a link")
	}
	used := map[int]string{}
	for i, l := range p.Links {
		f := fmt.Sprintf("post.links[%d]", i)
		checkURL(add, f+".url", l.URL)
		checkText(add, f+".title", l.Title, MaxTitleRunes)
		checkText(add, f+".description", l.Description, MaxDescriptionRunes)
		checkNet(add, f+".net", l.Net)
		if slices.IndexFunc(p.Links, func(o LinkSpec) bool { return o.Net == l.Net }) != i {
			add(f+".net", "a second link for %s", netName(l.Net))
		}
		checkIndex(add, f+".mediaIndex", l.MediaIndex, n, used)
	}
	if p.Facebook != nil {
		for i, c := range p.Facebook.Carousels {
			checkIndex(add, fmt.Sprintf("post.facebook.carousels[%d].mediaIndex", i), c.MediaIndex, n, used)
		}
	}
}

func netName(net string) string {
	if net == "" {
		return "every network"
	}
	return net
}

func (p *PostSpec) checkOptions(n int, add addFunc) {
	if fb := p.Facebook; fb != nil && len(fb.Carousels) > 0 {
		switch cards := len(fb.Carousels); {
		case p.Type != TypeMedia:
			add("post.facebook.carousels", "carousels are only valid on MEDIA posts, not %s", p.Type)
		case cards < swonkie.MinCarouselCards:
			add("post.facebook.carousels", "a carousel needs at least %d cards, got %d", swonkie.MinCarouselCards, cards)
		case cards > MaxCarouselCards:
			add("post.facebook.carousels", "at most %d cards, got %d", MaxCarouselCards, cards)
		}
		for i, c := range fb.Carousels {
			f := fmt.Sprintf("post.facebook.carousels[%d]", i)
			checkURL(add, f+".link", c.Link)
			if strings.TrimSpace(c.Title) == "" {
				add(f+".title", "required")
			}
			checkText(add, f+".title", c.Title, MaxTitleRunes)
			checkText(add, f+".description", c.Description, MaxDescriptionRunes)
			if c.CallToAction != "" && strings.Trim(c.CallToAction, "ABCDEFGHIJKLMNOPQRSTUVWXYZ_") != "" {
				add(f+".callToAction", "an upper-case value such as %s, got %q", swonkie.CallToActionNoButton, c.CallToAction)
			}
		}
	}
	if li := p.LinkedIn; li != nil {
		checkText(add, "post.linkedIn.documentTitle", li.DocumentTitle, MaxOptionTextRunes)
	}
	if tt := p.TikTok; tt != nil {
		checkText(add, "post.tiktok.title", tt.Title, MaxOptionTextRunes)
	}
}

func (p *PostSpec) checkLabels(add addFunc) {
	if n := len(p.Labels) + len(p.LabelIDs); n > MaxLabels {
		add("post.labels", "at most %d labels (names and ids), got %d", MaxLabels, n)
	}
	for i, id := range p.LabelIDs {
		if strings.TrimSpace(id) == "" {
			add(fmt.Sprintf("post.labelIds[%d]", i), "empty label id")
		}
	}
	for i, name := range p.Labels {
		f := fmt.Sprintf("post.labels[%d]", i)
		switch n := utf8.RuneCountInString(name); {
		case strings.TrimSpace(name) == "":
			add(f, "empty label name")
		case n > swonkie.MaxLabelName:
			add(f, "a label name has at most %d characters, got %d", swonkie.MaxLabelName, n)
		case slices.Index(p.Labels, name) != i:
			add(f, "label %q given twice", name)
		}
		if msg := unprintable(name); msg != "" {
			add(f, "%s", msg)
		}
	}
}

// netOf is a Swonkie net as a network code, "" for every network.
func netOf(net *string) string {
	if net == nil {
		return ""
	}
	return *net
}

// netPtr is Swonkie's net: null for every network.
func netPtr(net string) *string {
	if net == "" {
		return nil
	}
	return &net
}

// postInput is the post a pipeline creates: the request's post with the
// media ids its items got and the label ids its names resolved to
// (rec.LabelIDs), and the marker in the briefing.
func postInput(rec *Record) swonkie.PostInput {
	sp := rec.Request.Post
	in := swonkie.PostInput{
		Type:       swonkie.PostType(sp.Type),
		ProfileIDs: sp.ProfileIDs,
		Briefing:   &swonkie.Briefing{Markdown: "Created by mediaflow.\n\n" + Marker(rec.ID)},
		Instagram:  sp.Instagram,
		LinkedIn:   sp.LinkedIn,
		TikTok:     sp.TikTok,
		LabelIDs:   rec.postLabelIDs(),
	}
	if sp.Caption != "" || sp.FirstComment != "" {
		in.Captions = append(in.Captions, caption(sp.Caption, sp.FirstComment, ""))
	}
	for _, c := range sp.Captions {
		in.Captions = append(in.Captions, caption(c.Text, c.FirstComment, c.Net))
	}
	in.Medias = mediaGroups(nil, rec)
	mediaID := func(i *int) string {
		if i == nil || *i < 0 || *i >= len(rec.Media) {
			return ""
		}
		return rec.Media[*i].MediaID
	}
	for _, l := range sp.Links {
		in.Links = append(in.Links, swonkie.Link{Link: l.URL, LinkTitle: l.Title, LinkDescription: l.Description,
			MediaLibID: mediaID(l.MediaIndex), Net: netPtr(l.Net)})
	}
	if fb := sp.Facebook; fb != nil {
		in.Facebook = &swonkie.FacebookOptions{CarouselEndCard: fb.CarouselEndCard}
		for _, c := range fb.Carousels {
			in.Facebook.Carousels = append(in.Facebook.Carousels, swonkie.CarouselCard{Link: c.Link, Title: c.Title,
				Description: c.Description, MediaLibID: mediaID(c.MediaIndex), CallToAction: c.CallToAction})
		}
	}
	if sp.PublishAt != nil {
		in.PublishAt = swonkie.NewTime(*sp.PublishAt)
	}
	return in
}

func caption(text, comment, net string) swonkie.Caption {
	c := swonkie.Caption{PlainText: text, Net: netPtr(net)}
	if comment != "" {
		c.FirstComment = &swonkie.Comment{PlainText: comment}
	}
	return c
}

// mediaGroups adds the pipeline's media that are not previews to groups
// (a post's own, or none), each to the group of its network (the shared
// one when it names none), groups made as needed in the order items first
// need them. A media already in a group is not added again.
func mediaGroups(groups []swonkie.MediaGroup, rec *Record) []swonkie.MediaGroup {
	groups = slices.Clone(groups)
	previews := make([]string, len(rec.Media))
	if rec.Request.Post != nil {
		previews = rec.Request.Post.Previews(len(rec.Media))
	}
	for i, m := range rec.Media {
		if m.MediaID == "" || previews[i] != "" {
			continue
		}
		net := ""
		if i < len(rec.Request.Media) {
			net = rec.Request.Media[i].Net
		}
		g := slices.IndexFunc(groups, func(g swonkie.MediaGroup) bool { return netOf(g.Net) == net })
		if g < 0 {
			groups = append(groups, swonkie.MediaGroup{Net: netPtr(net)})
			g = len(groups) - 1
		}
		if slices.ContainsFunc(groups[g].MediaFiles, func(f swonkie.MediaFile) bool { return f.MediaLibID == m.MediaID }) {
			continue
		}
		groups[g].MediaFiles = append(slices.Clone(groups[g].MediaFiles), swonkie.MediaFile{MediaLibID: m.MediaID})
	}
	return groups
}

// CaptionFor returns the caption and first comment network net gets:
// its own (post.captions), else the one of every network. Pre-flight
// checks each targeted network's text with it.
func (p *PostSpec) CaptionFor(net string) (text, firstComment string) {
	for _, c := range p.Captions {
		if c.Net == net {
			return c.Text, c.FirstComment
		}
	}
	return p.Caption, p.FirstComment
}

// MediaFor returns the indexes of the request's media items network net
// gets in the post's media groups: the items named for it when there are
// any (its own group replaces the shared one there), else the items for
// every network. Link previews and carousel images are in no group.
func (r *Request) MediaFor(net string) []int {
	uses := make([]string, len(r.Media))
	if r.Post != nil {
		uses = r.Post.Previews(len(r.Media))
	}
	var own, shared []int
	for i, m := range r.Media {
		switch {
		case uses[i] != "":
		case m.Net == net:
			own = append(own, i)
		case m.Net == "":
			shared = append(shared, i)
		}
	}
	if len(own) > 0 && net != "" {
		return own
	}
	return shared
}

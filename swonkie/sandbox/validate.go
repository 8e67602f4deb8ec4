package sandbox

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mediaflow/mediaflow/swonkie"
)

var postTypes = []swonkie.PostType{swonkie.PostMedia, swonkie.PostLink, swonkie.PostStatus, swonkie.PostStory, swonkie.PostReel}

// captionLimits are each network's caption length in characters, the
// publicly known limits; a caption for every network must fit the
// tightest one among the post's networks.
var captionLimits = map[string]int{
	"facebook": 63206, "instagram": 2200, "linkedin": 3000, "tiktok": 2200,
	"threads": 500, "youtube": 5000, "gmb": 1500,
}

// netTypes lists the post types a network takes, where the docs say
// (§5); networks not listed take every type.
var netTypes = map[string][]swonkie.PostType{
	"instagram": {swonkie.PostMedia, swonkie.PostStory, swonkie.PostReel},
	"tiktok":    {swonkie.PostMedia, swonkie.PostReel},
}

// Facebook carousel limits (§5).
const (
	maxCardTitle        = 200
	maxCardDescription  = 1000
	maxBriefingMarkdown = 20000
)

func invalidPost(problems []swonkie.Problem) reply {
	return errorReply(http.StatusBadRequest, fmt.Sprintf("post is not valid: %d problem(s)", len(problems)), problems...)
}

// validate runs the checks of a post at time now and returns every
// problem, not just the first, so a caller can fix a post in one go. The
// caller holds s.mu.
//
// Create and update run the pre-save checks: the shape of the post (type,
// the fields its type needs, known ids, usable media, links, carousels,
// labels). Validate and the stage actions add what publishing checks
// (swonkie-api.md §4.9): every profile connected, each network taking the
// post type, captions within each network's length, media each network
// takes. With Options.PostChecks PostChecksAtCreate create and update run
// them all.
func (s *Server) validate(c *postContent, now time.Time, publishing bool) []swonkie.Problem {
	var ps []swonkie.Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, swonkie.Problem{Field: field, Message: fmt.Sprintf(format, args...)})
	}

	switch {
	case c.typ == "":
		add("type", "type is required")
	case !contains(postTypes, c.typ):
		add("type", "type must be one of MEDIA, LINK, STATUS, STORY, REEL")
	}

	nets := map[string]bool{}
	if len(c.profileIDs) == 0 {
		add("profileIds", "profileIds must list at least one profile")
	}
	for i, id := range c.profileIDs {
		field := fmt.Sprintf("profileIds[%d]", i)
		prof := s.profileByID[id]
		switch {
		case prof == nil:
			add(field, "profile not found in this workspace")
		case slices.Index(c.profileIDs, id) != i:
			add(field, "profile is listed twice")
		case publishing && prof.StatusLevel != swonkie.StatusOK:
			add(field, "profile %s (%s) cannot publish: its connection is %s", prof.Username, prof.Net.Code, prof.StatusLevel)
		default:
			nets[prof.Net.Code] = true
		}
	}
	// What publishing adds is about networks: with none, nothing of it
	// runs. own lists the networks that have an item of their own, which
	// the item for every network then does not reach.
	pubNets := func(net *string, own map[string]bool) []string {
		if !publishing {
			return nil
		}
		return targets(net, nets, own)
	}
	for _, net := range pubNets(nil, nil) {
		if allowed, ok := netTypes[net]; ok && c.typ != "" && !contains(allowed, c.typ) {
			add("type", "%s does not take %s posts", net, c.typ)
		}
	}

	checkNet := func(field string, net *string) {
		if net != nil && !contains(swonkie.Networks, *net) {
			add(field, "net must be null or one of %s", strings.Join(swonkie.Networks, ", "))
		}
	}
	// One caption, media group and link per network, and one for all:
	// which of two would a network publish? The docs do not say; the
	// sandbox refuses the second.
	oncePerNet := func(kind string) func(field string, net *string) {
		seen := map[string]bool{}
		return func(field string, net *string) {
			key, name := "", "every network"
			if net != nil {
				key, name = *net, *net
			}
			if seen[key] {
				add(field, "a second %s for %s", kind, name)
			}
			seen[key] = true
		}
	}
	checkMedia := func(field, id string) (mime string) {
		m := s.liveMedia(id, now)
		switch {
		case id == "":
			add(field, "mediaLibId is required")
		case m == nil:
			add(field, "media not found in this workspace")
		case m.statusAt(now, s.opts.ProcessingDelay) != swonkie.MediaSuccess:
			add(field, "media is %s; only SUCCESS media can be used", m.statusAt(now, s.opts.ProcessingDelay))
		default:
			return m.sniffed
		}
		return ""
	}

	// Captions.
	hasText := false
	onceCaption := oncePerNet("caption")
	ownCaption := ownNets(c.captions, func(cp swonkie.Caption) *string { return cp.Net })
	for i, cp := range c.captions {
		field := fmt.Sprintf("captions[%d]", i)
		checkNet(field+".net", cp.Net)
		onceCaption(field+".net", cp.Net)
		if strings.TrimSpace(cp.PlainText) != "" {
			hasText = true
		}
		for _, net := range pubNets(cp.Net, ownCaption) {
			if net == "instagram" && c.typ == swonkie.PostStory {
				continue // Instagram ignores captions on stories (§5)
			}
			limit := captionLimits[net]
			if n := utf8.RuneCountInString(cp.PlainText); limit > 0 && n > limit {
				add(field+".plainText", "caption is %d characters; %s allows %d", n, net, limit)
			}
			if cp.FirstComment != nil {
				if n := utf8.RuneCountInString(cp.FirstComment.PlainText); limit > 0 && n > limit {
					add(field+".firstComment.plainText", "first comment is %d characters; %s allows %d", n, net, limit)
				}
			}
		}
	}
	if c.typ == swonkie.PostStatus && !hasText {
		add("captions", "STATUS posts need a caption")
	}

	// Media.
	files := 0
	onceGroup := oncePerNet("media group")
	ownGroup := ownNets(c.medias, func(g swonkie.MediaGroup) *string { return g.Net })
	for i, g := range c.medias {
		field := fmt.Sprintf("medias[%d]", i)
		checkNet(field+".net", g.Net)
		onceGroup(field+".net", g.Net)
		if len(g.MediaFiles) == 0 {
			add(field+".mediaFiles", "a media group needs at least one file")
		}
		for j, f := range g.MediaFiles {
			files++
			mime := checkMedia(fmt.Sprintf("%s.mediaFiles[%d].mediaLibId", field, j), f.MediaLibID)
			if mime == "" {
				continue
			}
			if c.typ == swonkie.PostReel && !isVideo(mime) {
				add(fmt.Sprintf("%s.mediaFiles[%d].mediaLibId", field, j), "REEL posts need a video, not %s", mime)
			}
			for _, net := range pubNets(g.Net, ownGroup) {
				if net == "tiktok" && !isVideo(mime) {
					add(fmt.Sprintf("%s.mediaFiles[%d].mediaLibId", field, j), "tiktok takes videos only, not %s", mime)
				}
			}
		}
	}
	switch c.typ {
	case swonkie.PostMedia, swonkie.PostStory, swonkie.PostReel:
		if files == 0 {
			add("medias", "%s posts need at least one media", c.typ)
		}
	case swonkie.PostStatus, swonkie.PostLink:
		if len(c.medias) > 0 {
			add("medias", "%s posts take no medias", c.typ)
		}
	}

	// Links.
	onceLink := oncePerNet("link")
	for i, l := range c.links {
		field := fmt.Sprintf("links[%d]", i)
		checkNet(field+".net", l.Net)
		onceLink(field+".net", l.Net)
		checkURL(add, field+".link", l.Link)
		if l.MediaLibID != "" {
			checkMedia(field+".mediaLibId", l.MediaLibID)
		}
	}
	switch {
	case c.typ == swonkie.PostLink && len(c.links) == 0:
		add("links", "LINK posts need a link")
	case c.typ != swonkie.PostLink && c.typ != "" && len(c.links) > 0:
		add("links", "only LINK posts take links")
	}

	// Facebook carousels.
	if c.facebook != nil && len(c.facebook.Carousels) > 0 {
		if c.typ != swonkie.PostMedia {
			add("facebook.carousels", "carousels are only valid on MEDIA posts")
		}
		if len(c.facebook.Carousels) < swonkie.MinCarouselCards {
			add("facebook.carousels", "a carousel needs at least %d cards", swonkie.MinCarouselCards)
		}
		for i, card := range c.facebook.Carousels {
			field := fmt.Sprintf("facebook.carousels[%d]", i)
			checkURL(add, field+".link", card.Link)
			switch n := utf8.RuneCountInString(card.Title); {
			case strings.TrimSpace(card.Title) == "":
				add(field+".title", "title is required")
			case n > maxCardTitle:
				add(field+".title", "title is %d characters; at most %d", n, maxCardTitle)
			}
			if n := utf8.RuneCountInString(card.Description); n > maxCardDescription {
				add(field+".description", "description is %d characters; at most %d", n, maxCardDescription)
			}
			if card.MediaLibID != "" {
				checkMedia(field+".mediaLibId", card.MediaLibID)
			}
			if card.CallToAction != "" && !contains(s.opts.CallToActions, card.CallToAction) {
				add(field+".callToAction", "callToAction must be one of %s", strings.Join(s.opts.CallToActions, ", "))
			}
		}
	}

	for i, id := range c.labelIDs {
		if !s.labelByID[id] {
			add(fmt.Sprintf("labelIds[%d]", i), "label not found in this workspace")
		}
	}
	if c.briefing != nil && utf8.RuneCountInString(c.briefing.Markdown) > maxBriefingMarkdown {
		add("briefing.markdown", "briefing is longer than %d characters", maxBriefingMarkdown)
	}
	return ps
}

// targets lists the post's networks an item with this net applies to.
// An item for one network replaces the item for every network there (the
// docs say only that net null means every network; which of two would
// apply is the sandbox's choice): own lists the networks with an item of
// their own. An item naming a network the post does not target applies
// nowhere (it is kept, and takes effect once the post targets that
// network).
func targets(net *string, nets, own map[string]bool) []string {
	if net != nil {
		if nets[*net] {
			return []string{*net}
		}
		return nil
	}
	var out []string
	for _, n := range sortedKeys(nets) {
		if !own[n] {
			out = append(out, n)
		}
	}
	return out
}

// ownNets lists the networks items name.
func ownNets[T any](items []T, net func(T) *string) map[string]bool {
	own := map[string]bool{}
	for _, it := range items {
		if n := net(it); n != nil {
			own[*n] = true
		}
	}
	return own
}

func checkURL(add func(string, string, ...any), field, raw string) {
	if msg := swonkie.CheckLink(raw); msg != "" {
		add(field, "link: %s", msg)
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// sortProblems orders problems found by walking a map, so answers are the
// same from run to run.
func sortProblems(ps []swonkie.Problem) {
	slices.SortStableFunc(ps, func(a, b swonkie.Problem) int { return cmp.Compare(a.Field, b.Field) })
}

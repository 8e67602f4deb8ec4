package ui

import (
	"fmt"
	"strings"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
)

// contentRow is one line of what a post says, for the detail page: what
// it is (the caption of a network, a link, an option object) and its
// text.
type contentRow struct {
	What, Text string
}

// postContent lists what the request asked the post to say: its type,
// the caption of every network and of each network with its own, links,
// the option objects and labels. Texts are shown as given; the template
// escapes them.
func postContent(r *tasks.Record) []contentRow {
	sp := r.Request.Post
	if sp == nil {
		return nil
	}
	var rows []contentRow
	add := func(what, format string, args ...any) {
		rows = append(rows, contentRow{What: what, Text: fmt.Sprintf(format, args...)})
	}
	add("Type", "%s", sp.Type)
	caption := func(what, text, comment string) {
		if text != "" {
			add(what, "%s", text)
		}
		if comment != "" {
			add(what+", first comment", "%s", comment)
		}
	}
	caption("Caption (every network)", sp.Caption, sp.FirstComment)
	for _, c := range sp.Captions {
		caption("Caption ("+c.Net+")", c.Text, c.FirstComment)
	}
	for _, l := range sp.Links {
		text := l.URL
		if l.Title != "" {
			text += " — " + l.Title
		}
		if l.MediaIndex != nil {
			text += fmt.Sprintf(" (preview: item %d)", *l.MediaIndex+1)
		}
		add("Link ("+netName(l.Net)+")", "%s", text)
	}
	if fb := sp.Facebook; fb != nil {
		for i, c := range fb.Carousels {
			text := c.Title + " → " + c.Link
			if c.MediaIndex != nil {
				text += fmt.Sprintf(" (image: item %d)", *c.MediaIndex+1)
			}
			add(fmt.Sprintf("Facebook card %d", i+1), "%s", text)
		}
		if on(fb.CarouselEndCard) {
			add("Facebook", "the page's logo ends the carousel")
		}
	}
	if ig := sp.Instagram; ig != nil && ig.ShareToFeed != nil {
		add("Instagram", "share to feed: %s", yesNo(*ig.ShareToFeed))
	}
	if li := sp.LinkedIn; li != nil && li.DocumentTitle != "" {
		add("LinkedIn", "document title: %s", li.DocumentTitle)
	}
	if tt := sp.TikTok; tt != nil {
		add("TikTok", "%s", tiktok(tt))
	}
	if len(sp.Labels) > 0 {
		add("Labels", "%s", strings.Join(sp.Labels, ", "))
	}
	if ids := r.LabelIDs; len(ids) > 0 {
		add("Label ids", "%s", strings.Join(ids, ", "))
	} else if len(sp.LabelIDs) > 0 {
		add("Label ids", "%s", strings.Join(sp.LabelIDs, ", "))
	}
	return rows
}

// mediaNotes says, per media item, where its file goes when not to every
// network: one network's media, a link's preview, a carousel card's image.
func mediaNotes(r *tasks.Record) []string {
	notes := make([]string, len(r.Media))
	var uses []string
	if r.Request.Post != nil {
		uses = r.Request.Post.Previews(len(r.Media))
	}
	for i := range notes {
		switch {
		case i < len(uses) && uses[i] != "":
			notes[i] = "shown by " + uses[i]
		case i < len(r.Request.Media) && r.Request.Media[i].Net != "":
			notes[i] = r.Request.Media[i].Net + " only"
		}
	}
	return notes
}

// tiktok lists the TikTok options that are set, the disclosure flags
// first.
func tiktok(o *swonkie.TikTokOptions) string {
	var parts []string
	flag := func(name string, v *bool) {
		if v != nil {
			parts = append(parts, name+": "+yesNo(*v))
		}
	}
	flag("branded content", o.IsBrandedContent)
	flag("brand organic", o.IsBrandOrganic)
	flag("AI-generated", o.IsAiGenerated)
	if o.Title != "" {
		parts = append(parts, "title: "+o.Title)
	}
	flag("auto music", o.AutoAddMusic)
	flag("comments off", o.DisableComments)
	flag("duet off", o.DisableDuet)
	flag("stitch off", o.DisableStitch)
	return strings.Join(parts, "; ")
}

func netName(net string) string {
	if net == "" {
		return "every network"
	}
	return net
}

func on(b *bool) bool { return b != nil && *b }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

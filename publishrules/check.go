package publishrules

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/mediaflow/mediaflow/mediainfo"
)

// Post is what Check looks at: a post as it will be created on Swonkie.
type Post struct {
	// Type is the Swonkie post type: MEDIA, LINK, STATUS, STORY or REEL.
	Type string
	// Networks are the network codes of the target profiles.
	Networks []string
	Captions []Caption
	Media    []Media
}

// Caption is one caption; Net "" applies to every network the post has
// no caption of its own for, as Swonkie's net: null.
type Caption struct {
	Net  string
	Text string
}

// Media is one media item with what its probe found.
type Media struct {
	// Name identifies the item in findings (a file name); the item is
	// also named by its position, media[i].
	Name string
	// Net "" sends the item to every network; a code to that one only.
	Net  string
	Size int64
	// Info is the probe's result; a zero Info (no Kind) is an item that
	// could not be probed, whose limits are not checked.
	Info mediainfo.Info
}

// Finding is one way a post breaks a network's rules.
type Finding struct {
	Severity Severity `json:"severity"`
	// Item is what the finding is about: "post", "caption", "caption
	// (instagram)" or "media[1] (clip.mp4)".
	Item    string `json:"item"`
	Network string `json:"network"`
	// Rule names the limit: post.type, caption.length, media.count,
	// media.kind, media.mixed, image.formats, video.seconds, …
	Rule  string `json:"rule"`
	Value string `json:"value"`
	Limit string `json:"limit"`
	// Source is the network documentation the limit comes from.
	Source  string `json:"source"`
	Message string `json:"message"`
}

func (f Finding) String() string { return f.Message }

// Check returns every finding of p against r, errors first, in a stable
// order: by severity, network, item, rule.
func (r *Rules) Check(p Post) []Finding {
	var out []Finding
	unprobed := map[int]bool{}
	for _, net := range dedupe(p.Networks) {
		n := r.Networks[net]
		if n == nil {
			out = append(out, Finding{Severity: Warning, Item: "post", Network: net, Rule: "network",
				Value: net, Limit: "a network in the rules table",
				Message: fmt.Sprintf("post on %s: no publishing rules for this network; nothing about it is checked", net)})
			continue
		}
		row := n.Types[p.Type]
		if row == nil {
			out = append(out, Finding{Severity: Error, Item: "post", Network: net, Rule: "post.type",
				Value: p.Type, Limit: strings.Join(sortedKeys(n.Types), ", "), Source: n.Source,
				Message: fmt.Sprintf("post on %s: %s does not take %s posts (it takes %s)", net, n.label(net), p.Type, strings.Join(sortedKeys(n.Types), ", "))})
			continue
		}
		c := checker{net: net, name: n.label(net), typ: p.Type, row: row}
		c.caption(p.Captions)
		var items []int
		for i, m := range p.Media {
			if m.Net == "" || m.Net == net {
				items = append(items, i)
			}
		}
		c.media(p.Media, items, unprobed)
		out = append(out, c.findings...)
	}
	for _, i := range sortedInts(unprobed) {
		out = append(out, Finding{Severity: Warning, Item: itemName(i, p.Media[i]), Rule: "media.probe",
			Message: fmt.Sprintf("%s could not be probed: its size, format and duration are not checked", itemName(i, p.Media[i]))})
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		if a.Severity != b.Severity {
			if a.Severity == Error {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Network+"\x00"+a.Item+"\x00"+a.Rule, b.Network+"\x00"+b.Item+"\x00"+b.Rule)
	})
	return out
}

// Errors returns the findings that stop a post.
func Errors(fs []Finding) []Finding {
	return slices.DeleteFunc(slices.Clone(fs), func(f Finding) bool { return f.Severity != Error })
}

func (n *Network) label(code string) string {
	if n.Name != "" {
		return n.Name
	}
	return code
}

type checker struct {
	net, name, typ string
	row            *Row
	findings       []Finding
}

// bounds checks value against bs, one finding per bound it breaks.
// src is the source of the group the bounds belong to, "" for the row's.
func (c *checker) bounds(src, item, rule, what string, value float64, shown string, bs []Bound, unit func(float64) string) {
	for _, b := range bs {
		var limit string
		switch {
		case b.Min != nil && value < *b.Min:
			limit = "at least " + unit(*b.Min)
		case b.Max != nil && value > *b.Max:
			limit = "at most " + unit(*b.Max)
		default:
			continue
		}
		if b.Min != nil && b.Max != nil {
			limit = fmt.Sprintf("%s to %s", unit(*b.Min), unit(*b.Max))
		}
		source := b.Source
		if source == "" {
			source = src
		}
		c.add(b.Severity, source, b.Note, item, rule, shown, limit,
			fmt.Sprintf("%s is %s; %s %s takes %s", what, shown, c.name, c.typ, limit))
	}
}

func (c *checker) add(sev Severity, source, note, item, rule, value, limit, msg string) {
	if sev == "" {
		sev = Error
	}
	if source == "" {
		source = c.row.Source
	}
	msg = item + " on " + c.net + ": " + msg
	if note != "" {
		msg += " (" + note + ")"
	}
	c.findings = append(c.findings, Finding{Severity: sev, Item: item, Network: c.net, Rule: rule,
		Value: value, Limit: limit, Source: source, Message: msg})
}

// caption checks the caption this network gets: its own, else the
// shared one.
func (c *checker) caption(captions []Caption) {
	if c.row.Caption == nil {
		return
	}
	item, text, found := "caption", "", false
	for _, cp := range captions {
		if cp.Net == c.net {
			item, text, found = "caption ("+c.net+")", cp.Text, true
			break
		}
	}
	if !found {
		for _, cp := range captions {
			if cp.Net == "" {
				text = cp.Text
				break
			}
		}
	}
	unit := c.row.Caption.Unit
	if unit == "" {
		unit = "characters"
	}
	n := captionLength(text, unit)
	show := func(v float64) string { return fmt.Sprintf("%d %s", int64(v), unitName(unit)) }
	c.bounds(c.row.Caption.Source, item, "caption.length", "the caption", float64(n), show(float64(n)), c.row.Caption.Bounds, show)
}

func captionLength(s, unit string) int {
	switch unit {
	case "utf16":
		return len(utf16.Encode([]rune(s)))
	case "bytes":
		return len(s)
	}
	return utf8.RuneCountInString(s)
}

func unitName(unit string) string {
	switch unit {
	case "utf16":
		return "UTF-16 units"
	case "bytes":
		return "bytes"
	}
	return "characters"
}

// media checks the items this network gets: how many, of which kinds,
// and each against its kind's limits.
func (c *checker) media(all []Media, items []int, unprobed map[int]bool) {
	count := func(v float64) string { return strconv.Itoa(int(v)) + " media" }
	c.bounds("", "post", "media.count", "the number of media", float64(len(items)), count(float64(len(items))), c.row.Media, count)
	kinds := map[mediainfo.Kind][]int{}
	for _, i := range items {
		m := all[i]
		item := itemName(i, m)
		if m.Info.Kind == "" {
			unprobed[i] = true
			continue
		}
		kinds[m.Info.Kind] = append(kinds[m.Info.Kind], i)
		if !slices.Contains(c.row.Kinds, m.Info.Kind) {
			c.add(Error, "", "", item, "media.kind", string(m.Info.Kind), kindList(c.row.Kinds),
				fmt.Sprintf("%s %s takes %s, not %s", c.name, c.typ, kindList(c.row.Kinds), plural(m.Info.Kind)))
			continue
		}
		rules := c.row.Image
		if m.Info.Kind == mediainfo.Video {
			rules = c.row.Video
		}
		if rules != nil {
			c.item(item, m, rules)
		}
	}
	if !c.row.Mixed && len(kinds[mediainfo.Image]) > 0 && len(kinds[mediainfo.Video]) > 0 {
		c.add(Error, "", "", "post", "media.mixed", "images and videos", "one kind",
			fmt.Sprintf("%s %s does not mix images and videos in one post", c.name, c.typ))
	}
	for kind, rules := range map[mediainfo.Kind]*MediaRules{mediainfo.Image: c.row.Image, mediainfo.Video: c.row.Video} {
		if rules == nil || len(kinds[kind]) == 0 {
			continue
		}
		n := float64(len(kinds[kind]))
		show := func(v float64) string { return fmt.Sprintf("%d %s", int(v), plural(kind)) }
		c.bounds(rules.Source, "post", string(kind)+".count", "the number of "+plural(kind), n, show(n), rules.Count, show)
	}
}

// item checks one probed media item against its kind's rules.
func (c *checker) item(item string, m Media, r *MediaRules) {
	kind := string(m.Info.Kind)
	allow := func(rule, value string, a *Allow) {
		if a == nil || slices.Contains(a.Values, value) {
			return
		}
		limit := strings.Join(a.Values, ", ")
		source := a.Source
		if source == "" {
			source = r.Source
		}
		c.add(a.Severity, source, a.Note, item, kind+"."+rule, value, limit,
			fmt.Sprintf("%s %s is %s; %s %s takes %s", kind, strings.TrimSuffix(rule, "s"), value, c.name, c.typ, limit))
	}
	allow("formats", string(m.Info.Format), r.Formats)
	if m.Info.Kind == mediainfo.Video {
		allow("codecs", m.Info.VideoCodec, r.Codecs)
	}
	if m.Size > 0 {
		c.bounds(r.Source, item, kind+".bytes", "the file", float64(m.Size), byteSize(float64(m.Size)), r.Bytes, byteSize)
	}
	w, h := m.Info.Display()
	px := func(v float64) string { return fmt.Sprintf("%d px", int64(v)) }
	c.bounds(r.Source, item, kind+".width", "the displayed width", float64(w), px(float64(w)), r.Width, px)
	c.bounds(r.Source, item, kind+".height", "the displayed height", float64(h), px(float64(h)), r.Height, px)
	mp := func(v float64) string { return fmt.Sprintf("%.1f megapixels", v/1e6) }
	c.bounds(r.Source, item, kind+".pixels", "the picture", float64(w)*float64(h), mp(float64(w)*float64(h)), r.Pixels, mp)
	if a := m.Info.AspectRatio(); a > 0 {
		ratio := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
		shown := fmt.Sprintf("%.3f (%d×%d)", a, w, h)
		c.bounds(r.Source, item, kind+".aspect", "the aspect ratio", math.Round(a*1000)/1000, shown, r.Aspect, ratio)
	}
	if m.Info.Kind == mediainfo.Video {
		secs := func(v float64) string { return time.Duration(v * float64(time.Second)).String() }
		c.bounds(r.Source, item, kind+".seconds", "the duration", m.Info.Seconds(), secs(m.Info.Seconds()), r.Seconds, secs)
	}
}

func itemName(i int, m Media) string {
	if m.Name == "" {
		return fmt.Sprintf("media[%d]", i)
	}
	return fmt.Sprintf("media[%d] (%s)", i, m.Name)
}

func kindList(ks []mediainfo.Kind) string {
	if len(ks) == 0 {
		return "no media"
	}
	names := make([]string, len(ks))
	for i, k := range ks {
		names[i] = plural(k)
	}
	return strings.Join(names, " and ")
}

func plural(k mediainfo.Kind) string { return string(k) + "s" }

// byteSize shows a size the way the networks write theirs: decimal
// megabytes, since that is how their limits are stated.
func byteSize(v float64) string {
	switch {
	case v >= 1e9:
		return strconv.FormatFloat(math.Round(v/1e7)/100, 'f', -1, 64) + " GB"
	case v >= 1e6:
		return strconv.FormatFloat(math.Round(v/1e4)/100, 'f', -1, 64) + " MB"
	case v >= 1e3:
		return strconv.FormatFloat(math.Round(v/10)/100, 'f', -1, 64) + " KB"
	}
	return strconv.FormatFloat(v, 'f', -1, 64) + " bytes"
}

func dedupe(ss []string) []string {
	var out []string
	for _, s := range ss {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Package publishrules holds what each social network accepts, per post
// type — caption length, how many media, image and video formats, sizes,
// durations and aspect ratios — as data, each row citing the network's own
// publishing documentation, and checks a post against it before anything
// is created.
//
// The default table is embedded (default.json). Networks change their
// limits, so an operator file (PUBLISH_RULES_FILE) replaces rows of it:
// a network type given in the file replaces the default's row for that
// network and type whole; every other row stays. The file is parsed
// strictly: an unknown field is refused with its path.
//
// Check is pure: the post (type, target networks, captions, probed media)
// in, findings out. An error finding means the network will refuse the
// post; a warning means it will take it but change it (crop, scale,
// convert) or may refuse it depending on the account.
package publishrules

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/mediaflow/mediaflow/mediainfo"
)

//go:embed default.json
var defaultJSON []byte

// Severity says what a finding means for the post.
type Severity string

const (
	// Error: the network refuses the post as it is.
	Error Severity = "error"
	// Warning: the network takes it but crops, scales or converts it, or
	// refuses it for some accounts.
	Warning Severity = "warning"
)

// PostTypes are the Swonkie post types rows are keyed by.
var PostTypes = []string{"MEDIA", "LINK", "STATUS", "STORY", "REEL"}

// Rules is the table: network code → its rows.
type Rules struct {
	Networks map[string]*Network `json:"networks"`
}

// Network is one network's rows, by post type. A type without a row is
// one the network does not take.
type Network struct {
	Name string `json:"name"`
	// Source documents the network's publishing in general; it is cited
	// for findings no row covers (a post type the network does not take).
	Source string          `json:"source"`
	Types  map[string]*Row `json:"types"`
}

// Row is what one network accepts for one post type.
type Row struct {
	// Source is the network's documentation the row's limits come from;
	// a bound can cite another.
	Source  string        `json:"source"`
	Caption *CaptionLimit `json:"caption,omitempty"`
	// Media bounds how many media items the post carries.
	Media []Bound `json:"media,omitempty"`
	// Kinds are the kinds of media taken ("image", "video"); empty takes
	// none.
	Kinds []mediainfo.Kind `json:"kinds,omitempty"`
	// Mixed allows images and videos in one post; the default is no.
	Mixed bool        `json:"mixed,omitempty"`
	Image *MediaRules `json:"image,omitempty"`
	Video *MediaRules `json:"video,omitempty"`
	// Notes are for the person reading the table.
	Notes string `json:"notes,omitempty"`
}

// CaptionLimit bounds a caption's length.
type CaptionLimit struct {
	// Unit is how length is counted: "characters" (Unicode code points,
	// the default), "utf16" (UTF-16 code units) or "bytes" (UTF-8).
	Unit   string  `json:"unit,omitempty"`
	Bounds []Bound `json:"bounds"`
	// Source overrides the row's.
	Source string `json:"source,omitempty"`
}

// MediaRules are the limits on one kind of media.
type MediaRules struct {
	// Source overrides the row's for these rules.
	Source string `json:"source,omitempty"`
	// Count bounds how many media of this kind one post carries.
	Count   []Bound `json:"count,omitempty"`
	Formats *Allow  `json:"formats,omitempty"`
	Codecs  *Allow  `json:"codecs,omitempty"`
	// Bytes is the file size; Width and Height the displayed size in
	// pixels (after rotation); Pixels their product; Aspect the displayed
	// width over height; Seconds a video's duration.
	Bytes   []Bound `json:"bytes,omitempty"`
	Width   []Bound `json:"width,omitempty"`
	Height  []Bound `json:"height,omitempty"`
	Pixels  []Bound `json:"pixels,omitempty"`
	Aspect  []Bound `json:"aspect,omitempty"`
	Seconds []Bound `json:"seconds,omitempty"`
}

// Bound is an inclusive range; either end may be open.
type Bound struct {
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// Severity defaults to error.
	Severity Severity `json:"severity,omitempty"`
	// Source overrides the row's.
	Source string `json:"source,omitempty"`
	// Note says, in a finding, what happens (cropped, scaled, …).
	Note string `json:"note,omitempty"`
}

// Allow lists the accepted values (mediainfo formats or codec names).
type Allow struct {
	Values   []string `json:"values"`
	Severity Severity `json:"severity,omitempty"`
	Source   string   `json:"source,omitempty"`
	Note     string   `json:"note,omitempty"`
}

// Default returns the embedded table, a fresh copy each time.
func Default() *Rules {
	r, err := Parse(defaultJSON)
	if err != nil {
		panic("publishrules: the embedded default.json is invalid: " + err.Error())
	}
	return r
}

// Load returns the default table with the rows of the operator file at
// path laid over it; "" means the default alone.
func Load(path string) (*Rules, error) {
	r := Default()
	if path == "" {
		return r, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("PUBLISH_RULES_FILE: %w", err)
	}
	over, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("PUBLISH_RULES_FILE %s: %w", path, err)
	}
	r.Override(over)
	return r, nil
}

// Override lays over's rows over r's: a network's name and source when
// given, and each of its rows whole.
func (r *Rules) Override(over *Rules) {
	for code, n := range over.Networks {
		base := r.Networks[code]
		if base == nil {
			r.Networks[code] = n
			continue
		}
		if n.Name != "" {
			base.Name = n.Name
		}
		if n.Source != "" {
			base.Source = n.Source
		}
		for typ, row := range n.Types {
			base.Types[typ] = row
		}
	}
}

// Parse reads a table strictly: one JSON object, no unknown field (its
// path is named), every row citing an http(s) source, every bound sane.
func Parse(data []byte) (*Rules, error) {
	if err := rejectUnknown(data, &Rules{}); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Rules
	if err := dec.Decode(&r); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: want %s, not %s", te.Field, te.Type, te.Value)
		}
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the table")
	}
	if r.Networks == nil {
		r.Networks = map[string]*Network{}
	}
	return &r, r.validate()
}

func (r *Rules) validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	checkSource := func(path, src string, required bool) {
		if src == "" {
			if required {
				bad(path, "a source (the network's documentation) is required")
			}
			return
		}
		if u, err := url.Parse(src); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad(path, "source %q is not an http(s) URL", src)
		}
	}
	checkSeverity := func(path string, s Severity) {
		if s != "" && s != Error && s != Warning {
			bad(path, "severity %q is neither error nor warning", s)
		}
	}
	checkBounds := func(path string, bs []Bound) {
		for i, b := range bs {
			p := fmt.Sprintf("%s[%d]", path, i)
			switch {
			case b.Min == nil && b.Max == nil:
				bad(p, "needs min, max or both")
			case b.Min != nil && b.Max != nil && *b.Min > *b.Max:
				bad(p, "min %v is above max %v", *b.Min, *b.Max)
			case (b.Min != nil && *b.Min < 0) || (b.Max != nil && *b.Max < 0):
				bad(p, "bounds cannot be negative")
			}
			checkSeverity(p+".severity", b.Severity)
			checkSource(p+".source", b.Source, false)
		}
	}
	checkAllow := func(path string, a *Allow, known func(string) bool) {
		if a == nil {
			return
		}
		if len(a.Values) == 0 {
			bad(path+".values", "lists nothing")
		}
		for _, v := range a.Values {
			if !known(v) {
				bad(path+".values", "%q is not a known name", v)
			}
		}
		checkSeverity(path+".severity", a.Severity)
		checkSource(path+".source", a.Source, false)
	}
	for _, code := range sortedKeys(r.Networks) {
		n := r.Networks[code]
		np := "networks." + code
		if n == nil {
			bad(np, "is null")
			continue
		}
		if code != strings.ToLower(code) || code == "" {
			bad(np, "network codes are lower case, as Swonkie's net.code")
		}
		checkSource(np+".source", n.Source, false)
		for _, typ := range sortedKeys(n.Types) {
			row := n.Types[typ]
			rp := np + ".types." + typ
			if !slices.Contains(PostTypes, typ) {
				bad(rp, "post type is not one of %s", strings.Join(PostTypes, ", "))
			}
			if row == nil {
				bad(rp, "is null")
				continue
			}
			checkSource(rp+".source", row.Source, true)
			if row.Caption != nil {
				switch row.Caption.Unit {
				case "", "characters", "utf16", "bytes":
				default:
					bad(rp+".caption.unit", "%q is not characters, utf16 or bytes", row.Caption.Unit)
				}
				checkBounds(rp+".caption.bounds", row.Caption.Bounds)
				checkSource(rp+".caption.source", row.Caption.Source, false)
			}
			checkBounds(rp+".media", row.Media)
			for _, k := range row.Kinds {
				if k != mediainfo.Image && k != mediainfo.Video {
					bad(rp+".kinds", "%q is not image or video", k)
				}
			}
			for kind, m := range map[string]*MediaRules{"image": row.Image, "video": row.Video} {
				if m == nil {
					continue
				}
				mp := rp + "." + kind
				checkSource(mp+".source", m.Source, false)
				for name, bs := range map[string][]Bound{"count": m.Count, "bytes": m.Bytes, "width": m.Width,
					"height": m.Height, "pixels": m.Pixels, "aspect": m.Aspect, "seconds": m.Seconds} {
					checkBounds(mp+"."+name, bs)
				}
				checkAllow(mp+".formats", m.Formats, func(v string) bool { return knownFormats[mediainfo.Format(v)] })
				checkAllow(mp+".codecs", m.Codecs, func(v string) bool { return v != "" && v == strings.ToLower(v) })
			}
		}
	}
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return errors.Join(errs...)
}

var knownFormats = map[mediainfo.Format]bool{
	mediainfo.JPEG: true, mediainfo.PNG: true, mediainfo.GIF: true, mediainfo.WebP: true,
	mediainfo.HEIC: true, mediainfo.HEIF: true, mediainfo.AVIF: true,
	mediainfo.MP4: true, mediainfo.M4V: true, mediainfo.MOV: true,
	// Formats mediainfo does not read, which a network may still list.
	"webm": true, "bmp": true, "tiff": true,
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

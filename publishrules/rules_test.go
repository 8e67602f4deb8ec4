package publishrules_test

import (
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/publishrules"
)

// The default table covers every network docs/swonkie-api.md names, and
// every row and bound cites an http(s) page.
func TestDefaultTable(t *testing.T) {
	t.Parallel()
	r := publishrules.Default()
	var nets []string
	for code := range r.Networks {
		nets = append(nets, code)
	}
	slices.Sort(nets)
	if want := []string{"facebook", "gmb", "instagram", "linkedin", "threads", "tiktok", "youtube"}; !slices.Equal(nets, want) {
		t.Errorf("networks %v, want %v", nets, want)
	}
	for code, n := range r.Networks {
		if n.Source == "" || n.Name == "" {
			t.Errorf("%s has no name or source", code)
		}
		for typ, row := range n.Types {
			if u, err := url.Parse(row.Source); err != nil || u.Scheme != "https" {
				t.Errorf("%s %s cites %q", code, typ, row.Source)
			}
		}
	}
	// Default returns a copy: changing one does not change the next.
	r.Networks["instagram"].Types["REEL"] = nil
	if publishrules.Default().Networks["instagram"].Types["REEL"] == nil {
		t.Error("Default shares its table between calls")
	}
}

func TestParseIsStrict(t *testing.T) {
	t.Parallel()
	row := func(body string) string {
		return `{"networks":{"instagram":{"types":{"REEL":{"source":"https://example.com/reels"` + body + `}}}}}`
	}
	tests := []struct {
		name, data, want string
	}{
		{"unknown field deep down", row(`,"video":{"secconds":[{"max":90}]}`), "networks.instagram.types.REEL.video.secconds: unknown field"},
		{"unknown field in a bound", row(`,"media":[{"max":1,"severty":"warning"}]`), "networks.instagram.types.REEL.media[0].severty: unknown field"},
		{"unknown top-level field", `{"networks":{},"version":2}`, "version: unknown field"},
		{"row without a source", `{"networks":{"instagram":{"types":{"REEL":{"media":[{"max":1}]}}}}}`, "networks.instagram.types.REEL.source: a source"},
		{"source that is no URL", `{"networks":{"instagram":{"types":{"REEL":{"source":"the docs"}}}}}`, `source "the docs" is not an http(s) URL`},
		{"unknown post type", `{"networks":{"instagram":{"types":{"REELS":{"source":"https://example.com"}}}}}`, "networks.instagram.types.REELS: post type is not one of"},
		{"bad severity", row(`,"media":[{"max":1,"severity":"fatal"}]`), `networks.instagram.types.REEL.media[0].severity: severity "fatal"`},
		{"min above max", row(`,"video":{"seconds":[{"min":90,"max":3}]}`), "networks.instagram.types.REEL.video.seconds[0]: min 90 is above max 3"},
		{"empty bound", row(`,"video":{"aspect":[{}]}`), "networks.instagram.types.REEL.video.aspect[0]: needs min, max or both"},
		{"unknown format", row(`,"video":{"formats":{"values":["avi"]}}`), `networks.instagram.types.REEL.video.formats.values: "avi" is not a known name`},
		{"unknown kind", row(`,"kinds":["audio"]`), `networks.instagram.types.REEL.kinds: "audio" is not image or video`},
		{"wrong type", row(`,"media":[{"max":"one"}]`), "media.max: want float64, not string"},
		{"upper-case network", `{"networks":{"Instagram":{"types":{}}}}`, "networks.Instagram: network codes are lower case"},
		{"two documents", `{"networks":{}} {}`, "data after the table"},
		{"not JSON", `networks: {}`, "invalid character"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := publishrules.Parse([]byte(tt.data))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// An operator file replaces whole rows and keeps every other one.
func TestLoadLaysTheFileOverTheDefault(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "rules.json")
	file := `{"networks": {
	  "instagram": {"types": {"REEL": {"source": "https://intranet.example/instagram-reels",
	    "media": [{"min": 1, "max": 1}], "kinds": ["video"], "video": {"seconds": [{"min": 5, "max": 60}]}}}},
	  "mastodon": {"name": "Mastodon", "types": {"STATUS": {"source": "https://docs.joinmastodon.org/user/posting/",
	    "caption": {"bounds": [{"max": 500}]}}}}
	}}`
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := publishrules.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	fs := publishrules.Errors(r.Check(publishrules.Post{Type: "REEL", Networks: []string{"instagram"}, Media: []publishrules.Media{video(1080, 1920, 4, 1)}}))
	if len(fs) != 1 || fs[0].Limit != "5s to 1m0s" || fs[0].Source != "https://intranet.example/instagram-reels" {
		t.Errorf("4 s Reel under the operator's row: %+v", fs)
	}
	if r.Networks["instagram"].Types["MEDIA"] == nil || r.Networks["facebook"] == nil || r.Networks["mastodon"] == nil {
		t.Error("rows the file does not name were lost, or its new network was not added")
	}
	if r.Networks["instagram"].Name != "Instagram" {
		t.Errorf("the file's network without a name cleared the default's: %q", r.Networks["instagram"].Name)
	}

	if _, err := publishrules.Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "PUBLISH_RULES_FILE") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"networks":{"tiktok":{"types":{"REEL":{"source":"https://x.example","cation":{}}}}}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := publishrules.Load(bad); err == nil || !strings.Contains(err.Error(), bad) ||
		!strings.Contains(err.Error(), "networks.tiktok.types.REEL.cation: unknown field") {
		t.Errorf("file with an unknown field: %v", err)
	}
	if r, err := publishrules.Load(""); err != nil || r.Networks["instagram"].Types["REEL"].Source == "https://intranet.example/instagram-reels" {
		t.Errorf("Load(\"\") = %v; want the default alone", err)
	}
}

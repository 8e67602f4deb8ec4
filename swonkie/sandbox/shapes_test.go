package sandbox_test

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// keysOf returns the top-level keys of a JSON object, sorted.
func keysOf(t *testing.T, raw []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %v: %s", err, raw)
	}
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestCreateMediaIDField(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts sandbox.Options
		want []string
	}{
		{"default is the Quick Start's mediaId", sandbox.Options{}, []string{"mediaId", "uploadUrl"}},
		{"mediaId", sandbox.Options{MediaIDField: sandbox.MediaIDFieldMediaID}, []string{"mediaId", "uploadUrl"}},
		{"id as the 3rd-party reads it", sandbox.Options{MediaIDField: sandbox.MediaIDFieldID}, []string{"id", "uploadUrl"}},
		{"all", sandbox.Options{MediaIDField: sandbox.MediaIDFieldAll}, []string{"id", "mediaId", "mediaLibId", "uploadUrl"}},
		{"lenient means all", sandbox.Options{Lenient: true}, []string{"id", "mediaId", "mediaLibId", "uploadUrl"}},
		{"an explicit field beats lenient", sandbox.Options{Lenient: true, MediaIDField: sandbox.MediaIDFieldID}, []string{"id", "uploadUrl"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tt.opts)
			r := e.do(req{method: http.MethodPost, path: "/v2/media", body: map[string]any{"name": "a.png", "destinationType": "POST_MEDIA"}})
			expect(t, r, http.StatusCreated)
			if got := keysOf(t, r.body); !slices.Equal(got, tt.want) {
				t.Fatalf("fields %v, want %v: %s", got, tt.want, r.body)
			}
			var c created
			r.decode(t, &c)
			id := cmp.Or(c.MediaID, c.ID)
			if c.MediaID != "" && c.ID != "" && c.MediaID != c.ID {
				t.Fatalf("two ids: %s", r.body)
			}
			if _, ok := e.s.Media(id); !ok {
				t.Fatalf("the answered id %q is not a media", id)
			}
		})
	}
	if _, err := sandbox.New(sandbox.Options{APIID: "a", APIKey: "b", MediaIDField: "media_id"}); err == nil {
		t.Fatal("an unknown MediaIDField was accepted")
	}
}

func TestPostAnswerShapes(t *testing.T) {
	t.Parallel()
	single := []string{"budget", "captions", "id", "labelIds", "links", "medias", "profiles", "publishAt", "stage", "type"}
	minimal := []string{"id", "publishAt", "stage", "type"}
	documented := []string{"id", "medias", "profiles", "publishAt", "stage", "type"}
	with := func(keys []string, more ...string) []string {
		out := append(slices.Clone(keys), more...)
		slices.Sort(out)
		return out
	}
	tests := []struct {
		name             string
		opts             sandbox.Options
		post, listEntry  []string
		profileKeys      []string
		searchesBriefing bool
	}{
		{"default", sandbox.Options{}, single, minimal, []string{"id", "net"}, false},
		{"documented list entries", sandbox.Options{ListEntries: sandbox.ListEntryDocumented}, single, documented, []string{"id", "net"}, false},
		{"full list entries", sandbox.Options{ListEntries: sandbox.ListEntryFull}, single, single, []string{"id", "net"}, false},
		{"briefing in posts", sandbox.Options{Briefing: sandbox.BriefingInPost}, with(single, "briefing"), minimal, []string{"id", "net"}, false},
		{"briefing everywhere", sandbox.Options{Briefing: sandbox.BriefingEverywhere}, with(single, "briefing"), with(minimal, "briefing"), []string{"id", "net"}, false},
		{"search in briefings", sandbox.Options{SearchBriefing: true}, single, minimal, []string{"id", "net"}, true},
		{"lenient", sandbox.Options{Lenient: true}, with(single, "briefing", "createdAt", "updatedAt"),
			with(single, "briefing", "createdAt", "updatedAt"), []string{"id", "name", "net", "username"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, tt.opts)
			m := e.readyMedia(testmedia.PNG(2, 2, 0))
			body := e.mediaPost("caption", m)
			body["briefing"] = map[string]string{"markdown": "marker-XYZ"}
			r := e.do(req{method: http.MethodPost, path: "/v2/posts", body: body})
			expect(t, r, http.StatusCreated)
			if got := keysOf(t, r.body); !slices.Equal(got, tt.post) {
				t.Fatalf("created post fields %v, want %v", got, tt.post)
			}
			var id struct{ ID string }
			r.decode(t, &id)
			g := e.get("/v2/posts/" + esc(id.ID))
			if got := keysOf(t, g.body); !slices.Equal(got, tt.post) {
				t.Fatalf("GET post fields %v, want %v", got, tt.post)
			}
			var one struct {
				Profiles []json.RawMessage `json:"profiles"`
			}
			g.decode(t, &one)
			if got := keysOf(t, one.Profiles[0]); !slices.Equal(got, tt.profileKeys) {
				t.Fatalf("profile entry fields %v, want %v", got, tt.profileKeys)
			}
			var page struct {
				Data []json.RawMessage `json:"data"`
			}
			e.get("/v2/posts").decode(t, &page)
			if len(page.Data) != 1 {
				t.Fatalf("%d list entries", len(page.Data))
			}
			if got := keysOf(t, page.Data[0]); !slices.Equal(got, tt.listEntry) {
				t.Fatalf("list entry fields %v, want %v", got, tt.listEntry)
			}
			e.get("/v2/posts?search=MARKER-xyz").decode(t, &page)
			if found := len(page.Data) == 1; found != tt.searchesBriefing {
				t.Fatalf("search for the briefing found %d posts", len(page.Data))
			}
			e.get("/v2/posts?search=CAPTION").decode(t, &page)
			if len(page.Data) != 1 {
				t.Fatal("search does not look in captions")
			}
		})
	}
}

func TestLenientAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                    string
		lenient                 bool
		confirm, deleted, stage string
		deleteStatus            int
		labelHasColor           bool
	}{
		{"strict", false, `{}`, ``, `{"success":true}`, http.StatusNoContent, false},
		{"lenient", true, `"status":"PROCESSING"`, `{"success":true}`, `{"success":true,"stage":"TEAM_REVIEW"}`, http.StatusOK, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, sandbox.Options{Lenient: tt.lenient, ProcessingDelay: 1})
			c := e.createMedia(nil)
			expect(t, e.upload(c.UploadURL, testmedia.PNG(2, 2, 0), nil), http.StatusCreated)
			id := cmp.Or(c.MediaID, c.ID)
			r := e.confirm(id)
			expect(t, r, http.StatusOK)
			if tt.confirm == `{}` && r.String() != `{}` || !strings.Contains(r.String(), tt.confirm) {
				t.Fatalf("confirm answered %s, want %s", r.body, tt.confirm)
			}
			p := e.createPost(e.mediaPost("c", id))
			r = e.stage(p.ID, "teamReview")
			expect(t, r, http.StatusOK)
			if r.String() != tt.stage {
				t.Fatalf("stage answered %s, want %s", r.body, tt.stage)
			}
			for _, path := range []string{"/v2/posts/" + esc(p.ID), "/v2/media/" + esc(id)} {
				r = e.do(req{method: http.MethodDelete, path: path})
				expect(t, r, tt.deleteStatus)
				if r.String() != tt.deleted {
					t.Fatalf("delete answered %q, want %q", r.body, tt.deleted)
				}
			}
			r = e.do(req{method: http.MethodPost, path: "/v2/labels", body: map[string]string{"name": "l"}})
			expect(t, r, http.StatusCreated)
			if got := strings.Contains(r.String(), `"color"`); got != tt.labelHasColor {
				t.Fatalf("label answer %s", r.body)
			}
		})
	}
}

package sandbox_test

import (
	"encoding/base64"
	"net/http"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestIDs(t *testing.T) {
	t.Parallel()
	build := func(seed int64) (media, posts []string, e *env) {
		e = start(t, sandbox.Options{Seed: seed})
		for range 6 {
			media = append(media, e.readyMedia(testmedia.PNG(2, 2, 0)))
		}
		for _, m := range media {
			posts = append(posts, e.createPost(e.mediaPost("x", m)).ID)
		}
		return media, posts, e
	}
	media, posts, e := build(21)
	var slash, plus, pad int
	for _, id := range append(append([]string{}, media...), posts...) {
		raw, err := base64.StdEncoding.DecodeString(id)
		if err != nil {
			t.Fatalf("id %q is not standard base64: %v", id, err)
		}
		if !strings.HasPrefix(string(raw), "MediaId") && !strings.HasPrefix(string(raw), "PostId") {
			t.Fatalf("id %q decodes to %q", id, raw)
		}
		if strings.Contains(id, "/") {
			slash++
		}
		if strings.Contains(id, "+") {
			plus++
		}
		if strings.HasSuffix(id, "=") {
			pad++
		}
	}
	if slash == 0 || plus == 0 || pad == 0 {
		t.Fatalf("of 12 ids %d hold '/', %d '+', %d end in '='; each must appear", slash, plus, pad)
	}
	for _, p := range e.s.Profiles() {
		if !strings.HasSuffix(p.ID, "=") || !strings.Contains(p.ID, "/") {
			t.Fatalf("profile id %q", p.ID)
		}
	}
	// '+' in a path is literal: escaped or not, it is the same id.
	for _, id := range media {
		if strings.Contains(id, "+") {
			raw := strings.ReplaceAll(id, "/", "%2F")
			expect(t, e.get("/v2/media/"+raw), http.StatusOK)
			expect(t, e.get("/v2/media/"+strings.ReplaceAll(raw, "+", "%2B")), http.StatusOK)
		}
	}

	// A second server with the same seed, as a restarted worker -sandbox
	// starts: the same profiles, none of the same media or post ids.
	again, againPosts, e2 := build(21)
	seen := map[string]bool{}
	for _, id := range append(append(append([]string{}, media...), posts...), append(again, againPosts...)...) {
		if seen[id] {
			t.Fatalf("id %s handed out twice by two servers with the same seed", id)
		}
		seen[id] = true
	}
	if a, b := e.s.Profiles(), e2.s.Profiles(); a[0].ID != b[0].ID || a[3].ID != b[3].ID {
		t.Fatalf("same seed, different profile ids: %s, %s", a[0].ID, b[0].ID)
	}
	// Each id says which server made it.
	for _, tt := range []struct {
		ids  []string
		want string
	}{{media, e.s.Instance()}, {posts, e.s.Instance()}, {again, e2.s.Instance()}, {againPosts, e2.s.Instance()}} {
		for _, id := range tt.ids {
			if got, ok := sandbox.InstanceOf(id); !ok || got != tt.want {
				t.Fatalf("InstanceOf(%s) = %q, %v; want %q", id, got, ok, tt.want)
			}
		}
	}
	if e.s.Instance() == e2.s.Instance() {
		t.Fatal("two servers drew the same instance part")
	}
	for _, id := range []string{e.s.Profiles()[0].ID, "TWVkaWFJZA/never+seen=", "not base64!"} {
		if inst, ok := sandbox.InstanceOf(id); ok {
			t.Errorf("InstanceOf(%s) = %q: not an id a sandbox call made", id, inst)
		}
	}
}

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

	again, againPosts, _ := build(21)
	other, _, _ := build(22)
	if strings.Join(media, " ") != strings.Join(again, " ") || strings.Join(posts, " ") != strings.Join(againPosts, " ") {
		t.Fatal("the same seed made different ids")
	}
	if media[0] == other[0] {
		t.Fatal("seeds 21 and 22 made the same first id")
	}
}

package sandbox_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// manualClock stands still until advanced, so call times are exact.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestBusiestSecond(t *testing.T) {
	t.Parallel()
	ms := time.Millisecond
	tests := []struct {
		name string
		gaps []time.Duration // clock moves before each call
		want int
		// wantAt is the offset of the busiest window's first call.
		wantAt time.Duration
	}{
		{"no calls", nil, 0, -1},
		{"one call", []time.Duration{0}, 1, 0},
		{"all within a second", []time.Duration{0, 100 * ms, 100 * ms, 799 * ms}, 4, 0},
		{"exactly a second apart is two windows", []time.Duration{0, time.Second}, 1, 0},
		{"a burst later wins", []time.Duration{0, 600 * ms, time.Second, 10 * ms, 10 * ms, 10 * ms}, 4, 1600 * ms},
		{"a window across a second boundary", []time.Duration{900 * ms, 200 * ms, 200 * ms, 200 * ms, 2 * time.Second}, 4, 900 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clock := &manualClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
			e := start(t, sandbox.Options{Clock: clock})
			for i, g := range tt.gaps {
				clock.Advance(g)
				// Refused and unknown calls count too: they reached the API.
				if i%2 == 0 {
					e.get("/v2/profiles")
				} else {
					e.do(req{method: http.MethodGet, path: "/v2/labels", noAuth: true})
				}
			}
			// Uploads and introspection are not API calls.
			e.get("/_sandbox/stats")
			st := e.s.Stats()
			if st.BusiestSecond != tt.want {
				t.Fatalf("busiest second %d, want %d", st.BusiestSecond, tt.want)
			}
			wantAt := time.Time{}
			if tt.wantAt >= 0 {
				wantAt = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).Add(tt.wantAt)
			}
			if !st.BusiestSecondAt.Equal(wantAt) {
				t.Fatalf("busiest second at %v, want %v", st.BusiestSecondAt, wantAt)
			}
			if n, _ := e.s.BusiestWindow(time.Hour); n != len(tt.gaps) {
				t.Fatalf("busiest hour %d, want every call (%d)", n, len(tt.gaps))
			}
		})
	}
}

func TestLivePostsByMediaSetAndMarker(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	m1, m2, m3 := e.readyMedia(testmedia.PNG(2, 2, 0)), e.readyMedia(testmedia.PNG(3, 3, 0)), e.readyMedia(testmedia.PNG(4, 4, 0))
	post := func(marker string, media ...string) string {
		b := e.mediaPost("caption", media...)
		b["briefing"] = map[string]string{"markdown": "Created by mediaflow.\n\n" + marker}
		return e.createPost(b).ID
	}
	a1 := post("mediaflow-pipeline:A", m1, m2)
	a2 := post("mediaflow-pipeline:A", m2, m1) // same set, other order
	b1 := post("mediaflow-pipeline:B", m3)
	b2 := post("mediaflow-pipeline:B", m3)
	gone := post("mediaflow-pipeline:C", m1)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/posts/" + esc(gone)}), http.StatusNoContent)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/posts/" + esc(b2)}), http.StatusNoContent)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(m3)}), http.StatusNoContent)
	unconfirmed := e.createMedia(nil).MediaID

	st := e.s.StatsWithMarker("mediaflow-pipeline:")
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	tests := []struct {
		name      string
		got, want any
	}{
		{"alive posts", st.Posts.Alive, 3},
		{"media sets", st.Posts.ByMediaSet, []sandbox.PostGroup{
			{Media: sorted(m1, m2), Posts: []string{a1, a2}}, {Media: []string{m3}, Posts: []string{b1}}}},
		{"duplicates by media", st.Posts.DuplicatesByMedia(), 1},
		{"by marker", st.Posts.ByMarker, map[string][]string{"mediaflow-pipeline:A": {a1, a2}, "mediaflow-pipeline:B": {b1}}},
		{"alive media", st.Media.Alive, []string{m1, m2, unconfirmed}},
		{"no markers unless asked", e.s.Stats().Posts.ByMarker, map[string][]string(nil)},
	}
	for _, tt := range tests {
		gj, _ := json.Marshal(tt.got)
		wj, _ := json.Marshal(tt.want)
		if string(gj) != string(wj) {
			t.Errorf("%s: %s, want %s", tt.name, gj, wj)
		}
	}
	// The stats endpoint groups by marker when asked.
	var over struct {
		Posts sandbox.PostStats `json:"posts"`
	}
	e.get("/_sandbox/stats?markerPrefix=mediaflow-pipeline:").decode(t, &over)
	if len(over.Posts.ByMarker["mediaflow-pipeline:A"]) != 2 {
		t.Fatalf("stats endpoint by marker: %v", over.Posts.ByMarker)
	}
	// Media expire out of Alive.
	e.advance(sandbox.DefaultUnconfirmedTTL + time.Minute)
	if alive := e.s.Stats().Media.Alive; len(alive) != 2 {
		t.Fatalf("alive after the unconfirmed TTL: %v", alive)
	}
}

package sandbox_test

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestOrphansAndDuplicates(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	published := e.readyMedia(testmedia.PNG(2, 2, 0))
	cleaned := e.readyMedia(testmedia.PNG(2, 2, 0))
	left := e.readyMedia(testmedia.PNG(2, 2, 0))
	draftOnly := e.readyMedia(testmedia.PNG(2, 2, 0))
	unconfirmed := e.createMedia(nil).MediaID

	p := e.createPost(e.mediaPost("out", published))
	expect(t, e.stage(p.ID, "publishNow"), http.StatusOK)
	q := e.createPost(e.mediaPost("out too", cleaned))
	expect(t, e.stage(q.ID, "publishNow"), http.StatusOK)
	e.createPost(e.mediaPost("draft", draftOnly))
	e.advance(time.Second)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(cleaned)}), http.StatusNoContent)

	st := e.s.Stats()
	want := []string{left, draftOnly, unconfirmed}
	if !reflect.DeepEqual(st.Media.Orphaned, want) {
		t.Fatalf("orphaned %v, want %v", st.Media.Orphaned, want)
	}
	if st.Posts.DuplicatePosts() != 0 {
		t.Fatalf("duplicates before any: %v", st.Posts.Duplicates)
	}

	// A blind retry makes a duplicate: same captions, media and profiles,
	// even listed in another order.
	body := e.mediaPost("retry me", left, draftOnly)
	body["profileIds"] = []string{e.ok[0].ID, e.ok[1].ID}
	a := e.createPost(body)
	body["profileIds"] = []string{e.ok[1].ID, e.ok[0].ID}
	body["medias"] = []map[string]any{{"mediaFiles": []map[string]any{{"mediaLibId": draftOnly}, {"mediaLibId": left}}, "net": nil}}
	b := e.createPost(body)
	body["captions"] = []map[string]any{{"plainText": "retry me!", "net": nil}}
	e.createPost(body) // different caption: not a duplicate
	st = e.s.Stats()
	if st.Posts.DuplicatePosts() != 1 || !reflect.DeepEqual(st.Posts.Duplicates, [][]string{{a.ID, b.ID}}) {
		t.Fatalf("duplicates %v, want [[%s %s]]", st.Posts.Duplicates, a.ID, b.ID)
	}
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/posts/" + esc(b.ID)}), http.StatusNoContent)
	if st := e.s.Stats(); st.Posts.DuplicatePosts() != 0 || st.Posts.Created != 6 || st.Posts.Deleted != 1 {
		t.Fatalf("after deleting the duplicate: %+v", st.Posts)
	}
}

func TestRequestAccounting(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	e.get("/v2/profiles")
	e.get("/v2/profiles")
	e.do(req{method: http.MethodGet, path: "/v2/profiles", noAuth: true})
	e.get("/v2/media/" + esc("TWVkaWFJZA/x="))
	st := e.s.Stats()
	want := map[string]map[int]int{
		"GET /profiles":   {200: 2, 401: 1},
		"GET /media/{id}": {404: 1},
	}
	if !reflect.DeepEqual(st.Requests, want) {
		t.Fatalf("requests %v, want %v", st.Requests, want)
	}
}

func TestIntrospectionEndpoints(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	e.readyMedia(testmedia.PNG(2, 2, 0))
	r := e.get("/_sandbox/stats")
	expect(t, r, http.StatusOK)
	var st sandbox.Stats
	r.decode(t, &st)
	if st.Media.Created != 1 || st.Media.Confirmed != 1 || st.Requests["POST /media"][201] != 1 {
		t.Fatalf("stats endpoint: %s", r.body)
	}
	expect(t, e.do(req{method: http.MethodGet, path: "/_sandbox/stats", noAuth: true}), http.StatusUnauthorized)

	c := e.createMedia(nil)
	before := e.s.Now()
	r = e.do(req{method: http.MethodPost, path: "/_sandbox/clock/advance?by=16m"})
	expect(t, r, http.StatusOK)
	var adv struct {
		Now    time.Time `json:"now"`
		Offset string    `json:"offset"`
	}
	r.decode(t, &adv)
	if adv.Offset != "16m0s" || adv.Now.Sub(before) < 16*time.Minute {
		t.Fatalf("advance answered %s", r.body)
	}
	expect(t, e.upload(c.UploadURL, testmedia.PNG(2, 2, 0), nil), http.StatusForbidden)
	for _, bad := range []string{"", "?by=-1m", "?by=soon", "?by=0s"} {
		expect(t, e.do(req{method: http.MethodPost, path: "/_sandbox/clock/advance" + bad}), http.StatusBadRequest)
	}
	expect(t, e.do(req{method: http.MethodPost, path: "/_sandbox/clock/advance?by=1m", noAuth: true}), http.StatusUnauthorized)

	// The key rotates: the old one is refused like a revoked key, and
	// rotating back restores it.
	newKey := map[string]string{"X-API-KEY": "rotated-key-1"}
	expect(t, e.do(req{method: http.MethodPost, path: "/_sandbox/key", body: map[string]string{"apiKey": "rotated-key-1"}}), http.StatusOK)
	expect(t, e.get("/v2/profiles"), http.StatusUnauthorized)
	expect(t, e.do(req{method: http.MethodGet, path: "/v2/profiles", header: newKey}), http.StatusOK)
	expect(t, e.do(req{method: http.MethodPost, path: "/_sandbox/key", body: map[string]string{"apiKey": ""}, header: newKey}), http.StatusBadRequest)
	expect(t, e.do(req{method: http.MethodPost, path: "/_sandbox/key", body: map[string]string{"apiKey": testKey}, header: newKey}), http.StatusOK)
	expect(t, e.get("/v2/profiles"), http.StatusOK)

	// Introspection lookups.
	if _, ok := e.s.Media("nope"); ok {
		t.Fatal("Media found an unknown id")
	}
	if _, ok := e.s.Post("nope"); ok {
		t.Fatal("Post found an unknown id")
	}
	raw, err := json.Marshal(e.s.AllMedia())
	if err != nil || len(e.s.AllMedia()) != 2 {
		t.Fatalf("AllMedia: %s, %v", raw, err)
	}
}

type fixedClock struct{ t time.Time }

func (c fixedClock) Now() time.Time { return c.t }

func TestClocks(t *testing.T) {
	t.Parallel()
	var c sandbox.OffsetClock
	if d := time.Since(c.Now()); d < 0 || d > time.Second {
		t.Fatalf("zero OffsetClock is %s off real time", d)
	}
	c.Advance(time.Hour)
	c.Advance(-time.Hour) // ignored
	if c.Offset() != time.Hour || c.Now().Sub(time.Now().Add(59*time.Minute)) < 0 {
		t.Fatalf("offset %s after Advance(1h)", c.Offset())
	}
	s, err := sandbox.New(sandbox.Options{APIID: "a", APIKey: "b", Clock: fixedClock{time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Advance(time.Minute); err == nil {
		t.Fatal("advancing a clock that cannot move did not fail")
	}
	if !s.Now().Equal(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("Now %v ignores Options.Clock", s.Now())
	}
}

func TestOptionsAreChecked(t *testing.T) {
	t.Parallel()
	bad := []sandbox.Options{
		{APIKey: "k"},
		{APIID: "i"},
		{APIID: "i", APIKey: "k", ErrorRate: 1.5},
		{APIID: "i", APIKey: "k", ProcessingDelay: -time.Second},
		{APIID: "i", APIKey: "k", Profiles: []swonkie.Profile{{Name: "no net"}}},
		{APIID: "i", APIKey: "k", Profiles: []swonkie.Profile{{ID: "a", Net: swonkie.Network{Code: "x"}}, {ID: "a", Net: swonkie.Network{Code: "x"}}}},
	}
	for i, o := range bad {
		if _, err := sandbox.New(o); err == nil {
			t.Errorf("options %d accepted: %+v", i, o)
		}
	}
}

package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// TestBadBodyCommits: a badBody fault answers the handler's 2xx with a body
// no client can read an id from, and what the call made exists anyway.
func TestBadBodyCommits(t *testing.T) {
	t.Parallel()
	for _, endpoint := range []string{"POST /media", "POST /posts"} {
		t.Run(endpoint, func(t *testing.T) {
			t.Parallel()
			e := start(t, sandbox.Options{Faults: sandbox.FaultPlan{endpoint: {BadBody: 1}}})
			var body any = map[string]any{"name": "a.png", "destinationType": "POST_MEDIA"}
			if endpoint == "POST /posts" {
				body = e.mediaPost("c", e.readyMedia(testmedia.PNG(2, 2, 0)))
			}
			path := "/v2/" + strings.ToLower(strings.TrimPrefix(endpoint, "POST /"))
			kinds := map[string]bool{}
			const calls = 12
			for range calls {
				r := e.do(req{method: http.MethodPost, path: path, body: body})
				expect(t, r, http.StatusCreated)
				var v map[string]any
				switch err := json.Unmarshal(r.body, &v); {
				case len(r.body) == 0:
					kinds["empty"] = true
				case strings.HasPrefix(r.header.Get("Content-Type"), "text/html"):
					kinds["html"] = true
				case err != nil:
					kinds["truncated"] = true
				case len(v) == 0:
					kinds["emptyObject"] = true
				default:
					t.Fatalf("a usable answer: %s", r.body)
				}
			}
			if len(kinds) != 4 {
				t.Fatalf("bad bodies seen: %v, want all 4 kinds in %d calls", kinds, calls)
			}
			st := e.s.Stats()
			if got := st.Faults[endpoint][sandbox.FaultBadBody]; got != calls {
				t.Fatalf("%d badBody faults counted, want %d", got, calls)
			}
			made, unusable := st.Media.Created, len(st.Media.UnusableCreates)
			if endpoint == "POST /posts" {
				made, unusable = st.Posts.Created, len(st.Posts.UnusableCreates)
				if st.Posts.Alive != calls {
					t.Fatalf("%d live posts, want %d", st.Posts.Alive, calls)
				}
			} else {
				if len(st.Media.Alive) != calls {
					t.Fatalf("%d live media, want %d", len(st.Media.Alive), calls)
				}
				if info, _ := e.s.Media(st.Media.UnusableCreates[0]); !info.CreateReplyUnusable {
					t.Fatal("MediaInfo does not say the create reply was unusable")
				}
			}
			if made < calls || unusable != calls {
				t.Fatalf("created %d, unusable %d, want %d committed and unusable", made, unusable, calls)
			}
		})
	}
	// A refusal is not a committed answer: the fault leaves it alone.
	e := start(t, sandbox.Options{Faults: sandbox.FaultPlan{"POST /media": {BadBody: 1}}})
	r := e.do(req{method: http.MethodPost, path: "/v2/media", body: map[string]any{"name": ""}})
	expect(t, r, http.StatusBadRequest)
	r.errorBody(t)
}

func TestRedirectFault(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []http.Header
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.WriteHeader(http.StatusTeapot)
	}))
	t.Cleanup(elsewhere.Close)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	tests := []struct {
		name       string
		fault      sandbox.Fault
		wantStatus []int
		wantTarget string // prefix of Location; "" for the sandbox's own sink
	}{
		{"default statuses alternate", sandbox.Fault{Redirect: 1}, []int{301, 307}, ""},
		{"a chosen status and target", sandbox.Fault{Redirect: 1, RedirectStatus: 308, RedirectTo: elsewhere.URL}, []int{308}, elsewhere.URL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, sandbox.Options{Faults: sandbox.FaultPlan{"GET /profiles": tt.fault}})
			target := tt.wantTarget
			if target == "" {
				target = e.r.URL + "/_sandbox/redirected"
			}
			statuses := map[int]bool{}
			for range 8 {
				q, _ := http.NewRequest(http.MethodGet, e.r.BaseURL+"/profiles?x=1", nil)
				q.Header.Set("X-API-ID", testID)
				q.Header.Set("X-API-KEY", testKey)
				res, err := noFollow.Do(q)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				statuses[res.StatusCode] = true
				if loc := res.Header.Get("Location"); loc != target+"/v2/profiles?x=1" {
					t.Fatalf("Location %q, want %q", loc, target+"/v2/profiles?x=1")
				}
			}
			if len(statuses) != len(tt.wantStatus) {
				t.Fatalf("statuses %v, want %v", statuses, tt.wantStatus)
			}
			for _, s := range tt.wantStatus {
				if !statuses[s] {
					t.Fatalf("statuses %v, want %v", statuses, tt.wantStatus)
				}
			}
			// A client that follows redirects (Go's default) carries the
			// key along, and the sandbox says so.
			r := e.get("/v2/profiles")
			if tt.wantTarget == "" {
				expect(t, r, http.StatusMisdirectedRequest)
				st := e.s.Stats()
				if st.RedirectsFollowed != 1 || len(st.Violations) != 1 || st.Violations[0].Kind != sandbox.ViolationCredentialsFollowedRedirect {
					t.Fatalf("followed redirect not recorded: %d, %+v", st.RedirectsFollowed, st.Violations)
				}
				if st.Faults["GET /profiles"][sandbox.FaultRedirect] != 9 {
					t.Fatalf("faults %v", st.Faults)
				}
			} else {
				expect(t, r, http.StatusTeapot)
				mu.Lock()
				defer mu.Unlock()
				if len(seen) != 1 || seen[0].Get("X-API-KEY") != testKey {
					t.Fatalf("the target saw %v", seen)
				}
			}
		})
	}
	if _, err := sandbox.ParseFaultPlan(`{"GET /profiles":{"redirect":1,"redirectStatus":302,"redirectTo":"https://elsewhere.example"}}`); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		`{"GET /profiles":{"redirect":1,"redirectStatus":200}}`,
		`{"GET /profiles":{"redirect":1,"redirectTo":"elsewhere"}}`,
		`{"GET /profiles":{"redirect":1.5}}`,
	} {
		if _, err := sandbox.ParseFaultPlan(bad); err == nil {
			t.Errorf("plan %s accepted", bad)
		}
	}
}

func TestPartialPublish(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		partial       float64
		profiles      int // healthy profiles on the post
		action        string
		wantStage     swonkie.Stage
		wantStatuses  []string
		wantPartly    int
		wantPublished int
	}{
		{"no fault", 0, 2, "publishNow", swonkie.StagePublished, []string{"PUBLISHED", "PUBLISHED"}, 0, 1},
		{"publishNow, first profile fails", 1, 2, "publishNow", swonkie.StagePublished, []string{"ERROR", "PUBLISHED"}, 1, 1},
		{"schedule, first profile fails", 1, 3, "schedule", swonkie.StagePublished, []string{"ERROR", "PUBLISHED", "PUBLISHED"}, 1, 1},
		{"a lone profile fails: nothing is out", 1, 1, "publishNow", swonkie.StageScheduled, []string{"ERROR"}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, sandbox.Options{PublishDelay: time.Minute,
				Faults: sandbox.FaultPlan{"PATCH /posts/{id}/stage/{stage}": {PartialPublish: tt.partial}}})
			body := e.mediaPost("c", e.readyMedia(testmedia.PNG(2, 2, 0)))
			var ids []string
			for _, p := range e.ok[:tt.profiles] {
				ids = append(ids, p.ID)
			}
			body["profileIds"] = ids
			if tt.action == "schedule" {
				body["publishAt"] = e.s.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			}
			p := e.createPost(body)
			expect(t, e.stage(p.ID, tt.action), http.StatusOK)
			e.advance(2 * time.Hour)
			r := e.get("/v2/posts/" + esc(p.ID))
			var got struct {
				Stage    swonkie.Stage
				Profiles []struct {
					ID            string
					Net           struct{ Code string }
					PublishStatus string
				}
			}
			r.decode(t, &got)
			if got.Stage != tt.wantStage || len(got.Profiles) != len(tt.wantStatuses) {
				t.Fatalf("post %s", r.body)
			}
			for i, pp := range got.Profiles {
				if pp.ID != ids[i] || pp.PublishStatus != tt.wantStatuses[i] || pp.Net.Code != e.ok[i].Net.Code {
					t.Fatalf("profile %d: %+v, want %s on %s: %s", i, pp, tt.wantStatuses[i], e.ok[i].Net.Code, r.body)
				}
			}
			st := e.s.Stats()
			if st.Posts.PublishedPartly != tt.wantPartly || st.Posts.Published != tt.wantPublished {
				t.Fatalf("published %d, partly %d", st.Posts.Published, st.Posts.PublishedPartly)
			}
			if info, _ := e.s.Post(p.ID); tt.partial > 0 && !strings.Contains(info.PublishError, "partialPublish") {
				t.Fatalf("PublishError %q", info.PublishError)
			}
		})
	}
}

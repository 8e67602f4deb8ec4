package api

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/internal/workertest"
	"github.com/mediaflow/mediaflow/tasks"
)

// unknownProfile is a profile id of the documented form that no sandbox
// workspace has.
const unknownProfile = "bm8tc3VjaC1wcm9maWxl"

// preflightWorld is an API on the Redis of a worker whose workspace's
// profile directory is cached, with a.png under the media root.
func preflightWorld(t *testing.T) (*world, *workertest.World) {
	t.Helper()
	ws := workertest.Start(t, workertest.Options{Worker: true})
	if err := os.WriteFile(filepath.Join(ws.Root, "a.png"), testmedia.PNG(8, 8, 1), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Worker.RefreshProfiles(context.Background()); err != nil {
		t.Fatal(err)
	}
	return newWorld(t, worldOptions{redis: ws.Redis, mediaRoot: ws.Root}), ws
}

// POST /v1/pipelines/validate lists every problem of a request with three
// faults in one answer — an unknown profile, a caption too long for one of
// its networks, a URL whose host does not exist — and creates nothing:
// the Redis key count and the sandbox's counters stay as they were. A
// request without faults answers valid, with its media probed.
func TestValidateListsEveryProblemAndCreatesNothing(t *testing.T) {
	t.Parallel()
	w, ws := preflightWorld(t)
	body := func(caption string, profiles []string, media ...string) string {
		b, err := json.Marshal(map[string]any{
			"media": func() []map[string]string {
				var m []map[string]string
				for _, s := range media {
					m = append(m, map[string]string{"source": s})
				}
				return m
			}(),
			"post":   map[string]any{"profileIds": profiles, "caption": caption},
			"action": "publishNow"})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	validate := func(b string) tasks.CheckResult {
		t.Helper()
		r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/validate", body: b})
		if r.status != http.StatusOK {
			t.Fatalf("validate: %d %s", r.status, r.body)
		}
		var res tasks.CheckResult
		if err := json.Unmarshal(r.body, &res); err != nil {
			t.Fatal(err)
		}
		return res
	}
	before, stats := w.keys(t), ws.Sandbox.Server.Stats()

	res := validate(body(strings.Repeat("word ", 700), []string{ws.Profiles[0], ws.Profiles[2], unknownProfile},
		"a.png", "https://nonexistent.invalid/b.jpg"))
	want := []struct{ rule, net, item, value string }{
		{tasks.RuleProfileKnown, "", "post.profileIds[2]", unknownProfile},
		{"caption.length", "linkedin", "caption", "3500"},
		{tasks.RuleSourceReadable, "", "media[1] (b.jpg)", "https://nonexistent.invalid/b.jpg"},
	}
	if res.Valid || len(res.Problems) != len(want) {
		t.Fatalf("valid %v, %d problems, want %d: %+v", res.Valid, len(res.Problems), len(want), res.Problems)
	}
	for _, wt := range want {
		if !slices.ContainsFunc(res.Problems, func(f tasks.Finding) bool {
			return f.Rule == wt.rule && f.Network == wt.net && strings.HasPrefix(f.Item, wt.item) && strings.HasPrefix(f.Value, wt.value)
		}) {
			t.Errorf("no problem %+v among %+v", wt, res.Problems)
		}
	}
	if len(res.Media) != 2 || res.Media[0].Info == nil || res.Media[0].Info.Width != 8 || res.Media[1].Error == "" {
		t.Errorf("media %+v: want a.png probed (8×8) and b.jpg's error", res.Media)
	}

	// The same request without its faults could publish.
	ok := validate(body("fine", []string{ws.Profiles[0], ws.Profiles[2]}, "a.png"))
	if !ok.Valid || len(ok.Problems) != 0 || len(ok.Media) != 1 || ok.Media[0].Info == nil {
		t.Errorf("a request that can publish: %+v", ok)
	}

	if after := w.keys(t); len(after) != len(before) {
		t.Errorf("the dry run changed Redis: %d keys, then %d: %v", len(before), len(after), after)
	}
	if got := ws.Sandbox.Server.Stats(); got.Media.Created != stats.Media.Created || got.Posts.Created != stats.Posts.Created ||
		!reflect.DeepEqual(got.Requests, stats.Requests) {
		t.Errorf("the dry run called the sandbox: %v, then %v", stats.Requests, got.Requests)
	}
}

// Once the profile directory is cached, POST /v1/pipelines refuses a
// request naming a profile the workspace does not have, or whose
// connection expired, with 422 naming it, and queues nothing. A request
// that is also malformed in shape is a 400 listing both.
func TestPublishRefusesUnusableProfilesWith422(t *testing.T) {
	t.Parallel()
	w, ws := preflightWorld(t)
	before := w.keys(t)
	for _, tt := range []struct {
		name, profile, want string
	}{
		{"unknown", unknownProfile, unknownProfile},
		{"expired", ws.Expired, "EXPIRED"},
	} {
		r := w.publish(t, `{"media":[{"source":"a.png"}],"post":{"profileIds":["`+ws.Profiles[0]+`","`+tt.profile+`"],"caption":"x"},"action":"publishNow"}`, nil)
		p := r.problem(t)
		if r.status != http.StatusUnprocessableEntity || p.Type != typeProfile || !slices.Equal(fieldsOf(p), []string{"post.profileIds[1]"}) ||
			!strings.Contains(string(r.body), tt.want) {
			t.Errorf("%s profile: %d %s; want 422 %s naming post.profileIds[1] and %q", tt.name, r.status, r.body, typeProfile, tt.want)
		}
	}
	r := w.publish(t, `{"media":[{"source":"a.png"}],"post":{"profileIds":["`+unknownProfile+`"],"caption":"x"},"action":"sometime"}`, nil)
	if p := r.problem(t); r.status != http.StatusBadRequest || !slices.Contains(fieldsOf(p), "post.profileIds[0]") || !slices.Contains(fieldsOf(p), "action") {
		t.Errorf("bad action and unknown profile: %d %s; want 400 naming both", r.status, r.body)
	}
	if after := w.keys(t); len(after) != len(before) {
		t.Errorf("refused requests changed Redis: %d keys, then %d: %v", len(before), len(after), after)
	}
}

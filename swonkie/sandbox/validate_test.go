package sandbox_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// By default create checks a post's shape only; what publishing checks
// (profiles connected, networks taking the type, captions within each
// network, media each network takes) is answered by GET
// /posts/{id}/validate, in the documented shape, and enforced by the
// stage actions. PostChecksAtCreate refuses all of it at create.
func TestPublishChecks(t *testing.T) {
	t.Parallel()
	image := testmedia.PNG(4, 4, 0)
	tests := []struct {
		name  string
		body  func(e *env, img string) map[string]any
		field string
		msg   string
	}{
		{"a network that does not take the type", func(e *env, _ string) map[string]any {
			return map[string]any{"type": "STATUS", "profileIds": []string{e.ok[1].ID},
				"captions": []map[string]any{{"plainText": "hello", "net": nil}}}
		}, "type", "instagram does not take STATUS posts"},
		{"an expired profile", func(e *env, img string) map[string]any {
			b := e.mediaPost("hello", img)
			b["profileIds"] = []string{e.ok[0].ID, e.expired.ID}
			return b
		}, "profileIds[1]", "its connection is EXPIRED"},
		{"a caption too long for one network", func(e *env, img string) map[string]any {
			b := e.mediaPost(strings.Repeat("a", 2201), img)
			b["profileIds"] = []string{e.ok[0].ID, e.ok[1].ID}
			return b
		}, "captions[0].plainText", "instagram allows 2200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, sandbox.Options{})
			body := tt.body(e, e.readyMedia(image))
			p := e.createPost(body)

			r := e.get("/v2/posts/" + esc(p.ID) + "/validate")
			expect(t, r, http.StatusBadRequest)
			var v struct {
				Valid  *bool             `json:"valid"`
				Errors []swonkie.Problem `json:"errors"`
			}
			r.decode(t, &v)
			if v.Valid == nil || *v.Valid || !(errBody{Errors: v.Errors}).hasProblem(tt.field, tt.msg) {
				t.Fatalf("validate answered %s; want valid false with %s: …%s…", r.body, tt.field, tt.msg)
			}
			// The typed client reads the same verdict.
			c, err := swonkie.New(swonkie.Config{BaseURL: e.r.BaseURL, APIID: testID, APIKey: testKey})
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.ValidatePost(context.Background(), p.ID)
			if err != nil || got.Valid || len(got.Errors) != len(v.Errors) {
				t.Fatalf("ValidatePost = %+v, %v", got, err)
			}
			// Publishing refuses it for the same reason, and nothing moves.
			s := e.stage(p.ID, "publishNow")
			expect(t, s, http.StatusBadRequest)
			if !s.errorBody(t).hasProblem(tt.field, tt.msg) {
				t.Fatalf("publishNow refused for another reason: %s", s.body)
			}
			if got := e.getPost(p.ID); got.Stage != swonkie.StageIdea {
				t.Fatalf("post moved to %s", got.Stage)
			}

			// With every check at create, the same post is never made.
			strict := start(t, sandbox.Options{PostChecks: sandbox.PostChecksAtCreate})
			cr := strict.do(req{method: http.MethodPost, path: "/v2/posts", body: tt.body(strict, strict.readyMedia(image))})
			expect(t, cr, http.StatusBadRequest)
			if !cr.errorBody(t).hasProblem(tt.field, tt.msg) || strict.s.Stats().Posts.Created != 0 {
				t.Fatalf("create with PostChecksAtCreate: %s", cr.body)
			}
		})
	}
}

// A post that can publish validates with 200 and an empty list, and an
// unknown profile is refused at create in every mode: it is no post at all.
func TestValidateValidPostAndPreSaveChecks(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	p := e.createPost(e.mediaPost("hello", e.readyMedia(testmedia.PNG(4, 4, 0))))
	r := e.get("/v2/posts/" + esc(p.ID) + "/validate")
	expect(t, r, http.StatusOK)
	if string(r.body) != `{"valid":true,"errors":[]}` {
		t.Fatalf("validate answered %s", r.body)
	}
	cr := e.do(req{method: http.MethodPost, path: "/v2/posts", body: map[string]any{"type": "STATUS",
		"profileIds": []string{"UHJvZmlsZQ=="}, "captions": []map[string]any{{"plainText": "x", "net": nil}}}})
	expect(t, cr, http.StatusBadRequest)
	if !cr.errorBody(t).hasProblem("profileIds[0]", "not found") {
		t.Fatalf("unknown profile: %s", cr.body)
	}
	if _, err := sandbox.New(sandbox.Options{APIID: "a", APIKey: "b", PostChecks: "sometimes"}); err == nil {
		t.Error("an unknown PostChecks was accepted")
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redistest"
	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/swonkie"

	"github.com/mediaflow/mediaflow/tasks"
)

// The routes the handler serves and the operations openapi.yaml lists are
// the same set, checked both on the route table and over HTTP: each
// documented operation answers, each other method on a documented path
// answers 405 with the documented methods in Allow, and other paths 404.
func TestSpecAndHandlerAgreeOnRoutes(t *testing.T) {
	t.Parallel()
	doc, _ := loadSpec(t)
	documented := map[string][]string{} // path → methods
	var docOps []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[path] = append(documented[path], method)
			docOps = append(docOps, method+" "+path)
		}
	}
	w := newWorld(t, worldOptions{})
	h, err := New(w.client, Config{Tokens: []string{tokenA}})
	if err != nil {
		t.Fatal(err)
	}
	var served []string
	for _, rt := range h.table() {
		served = append(served, rt.method+" "+rt.pattern)
	}
	sort.Strings(docOps)
	sort.Strings(served)
	if !slices.Equal(docOps, served) {
		t.Fatalf("openapi.yaml lists %v, the handler serves %v", docOps, served)
	}

	id := w.mustPublish(t, validRequest("probe")).ID
	bodies := map[string]string{"POST /v1/pipelines": validRequest("probe"), "POST /v1/pipelines/validate": validRequest("probe"), "POST /v1/pipelines/bulk": `{"action":"cancel","filter":{"keyPrefix":"nobody-"},"dryRun":true}`, "PATCH /v1/pipelines/{id}": `{"post":{"caption":"edited"}}`}
	// The probe names no webhook, so it has no event to send again; it is
	// pending, so it cannot be replayed.
	notOK := map[string]int{"POST /v1/pipelines/{id}/webhook/redeliver": http.StatusConflict,
		"POST /v1/pipelines/{id}/replay": http.StatusConflict,
		// A pipeline id names no operation.
		"GET /v1/operations/{id}": http.StatusNotFound, "HEAD /v1/operations/{id}": http.StatusNotFound}
	// In order: the edit (PATCH …/{id}) comes before the cancels (DELETE
	// …/{id}, then …/{id}/cancel), which leave nothing to edit.
	for _, path := range slices.Sorted(maps.Keys(documented)) {
		methods := documented[path]
		concrete := strings.NewReplacer("{id}", id, "{name}", tasks.DefaultWorkspace).Replace(path)
		allow := append([]string(nil), methods...)
		if slices.Contains(methods, http.MethodGet) {
			allow = append(allow, http.MethodHead)
		}
		for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions} {
			t.Run(m+" "+path, func(t *testing.T) {
				r := w.do(t, call{method: m, path: concrete, body: bodies[m+" "+path]})
				if !slices.Contains(allow, m) {
					if r.status != http.StatusMethodNotAllowed {
						t.Fatalf("undocumented method: %d, want 405", r.status)
					}
					got := strings.Split(r.header.Get("Allow"), ", ")
					if !sameSet(got, allow) {
						t.Errorf("Allow %v, want %v", got, allow)
					}
					if m == http.MethodHead {
						return
					}
					if p := r.problem(t); p.Type != typeMethod {
						t.Errorf("problem type %q", p.Type)
					}
					return
				}
				if want, ok := notOK[m+" "+path]; ok {
					if r.status != want {
						t.Errorf("documented operation: %d %s, want %d", r.status, r.body, want)
					}
					return
				}
				if r.status < 200 || r.status > 299 {
					t.Errorf("documented operation: %d %s", r.status, r.body)
				}
			})
		}
	}
	for _, path := range []string{"/", "/v1", "/v1/", "/v1/pipelines/", "/v1/pipelines/" + id + "/retry", "/v2/pipelines", "/v1/openapi.json"} {
		t.Run("unknown "+path, func(t *testing.T) {
			r := w.do(t, call{method: http.MethodGet, path: path})
			if r.status != http.StatusNotFound {
				t.Fatalf("status %d, want 404", r.status)
			}
			if p := r.problem(t); p.Type != typeNotFound {
				t.Errorf("problem type %q", p.Type)
			}
		})
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

// The spec is served as it is in the repository, to anyone, and only by GET.
func TestSpecIsServedWithoutToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	for _, token := range []string{"-", "wrong-token-0123456789", tokenA} {
		r := w.do(t, call{method: http.MethodGet, path: "/v1/openapi.yaml", token: token})
		if r.status != http.StatusOK || !bytes.Equal(r.body, Spec) || r.header.Get("Content-Type") != "application/yaml" {
			t.Errorf("token %q: %d %q, %d bytes", token, r.status, r.header.Get("Content-Type"), len(r.body))
		}
	}
	r := w.do(t, call{method: http.MethodPost, path: "/v1/openapi.yaml", token: "-", body: "{}"})
	if r.status != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST the spec without a token: %d, Allow %q", r.status, r.header.Get("Allow"))
	}
}

// A request that fails inside mediaflow answers 500 without saying why
// (the cause names Redis's address), and the log has the cause.
func TestInternalErrorsSayNothingInternal(t *testing.T) {
	t.Parallel()
	r := redistest.New(t)
	// No retries: the answer is the same, only sooner.
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, DB: r.DB, MaxRetries: -1, DialerRetries: 1})
	t.Cleanup(func() { _ = rdb.Close() })
	w := newWorld(t, worldOptions{redis: r, rdb: rdb})
	id := w.mustPublish(t, validRequest("before")).ID
	r.Stop(t)
	for _, c := range []call{
		{method: http.MethodPost, path: "/v1/pipelines", body: validRequest("after")},
		{method: http.MethodPost, path: "/v1/pipelines/validate", body: validRequest("after")},
		{method: http.MethodGet, path: "/v1/pipelines"},
		{method: http.MethodGet, path: "/v1/pipelines/" + id},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/cancel"},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/webhook/redeliver"},
		{method: http.MethodPatch, path: "/v1/pipelines/" + id, body: `{"post":{"caption":"edited"}}`},
		{method: http.MethodPost, path: "/v1/pipelines/" + id + "/replay"},
		{method: http.MethodPost, path: "/v1/pipelines/bulk", body: `{"action":"cancel","filter":{}}`},
		{method: http.MethodGet, path: "/v1/operations/" + id},
		{method: http.MethodGet, path: "/v1/workspaces"},
		{method: http.MethodPost, path: "/v1/workspaces/default/pause"},
		{method: http.MethodPost, path: "/v1/workspaces/default/resume"},
	} {
		t.Run(c.method+" "+c.path, func(t *testing.T) {
			r := w.do(t, c)
			if r.status != http.StatusInternalServerError {
				t.Fatalf("status %d, want 500; %s", r.status, r.body)
			}
			p := r.problem(t)
			if p.Type != typeInternal {
				t.Errorf("problem type %q", p.Type)
			}
			addr := w.redis.Addr
			for _, leak := range []string{addr, "redis", "dial", "refused", "tcp"} {
				if strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(leak)) {
					t.Errorf("the answer says %q: %s", leak, r.body)
				}
			}
		})
	}
	if !strings.Contains(w.logs.String(), "api request failed") || !strings.Contains(w.logs.String(), w.redis.Addr) {
		t.Errorf("the log lacks the cause:\n%s", w.logs.String())
	}
}

// One access-log line per request, with the route template and never the
// token or the query string; a refused token is summarized instead.
func TestAccessLog(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	rec := w.mustPublish(t, validRequest("logged"))
	w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + rec.ID})
	w.do(t, call{method: http.MethodGet, path: "/v1/pipelines?cursor=c2VjcmV0LWN1cnNvcg&limit=5"})
	w.do(t, call{method: http.MethodGet, path: "/v1/elsewhere"})
	w.do(t, call{method: http.MethodGet, path: "/v1/pipelines", token: "wrong-token-0123456789"})

	type line struct {
		Level    string  `json:"level"`
		Client   string  `json:"client"`
		Method   string  `json:"method"`
		Route    string  `json:"route"`
		Status   int     `json:"status"`
		Duration float64 `json:"duration_ms"`
		Token    int     `json:"token"`
		Message  string  `json:"message"`
	}
	var lines []line
	for _, raw := range strings.Split(strings.TrimSpace(w.logs.String()), "\n") {
		var l line
		if err := json.Unmarshal([]byte(raw), &l); err != nil {
			t.Fatalf("log line %q: %v", raw, err)
		}
		lines = append(lines, l)
	}
	want := []line{
		{Level: "info", Method: "POST", Route: "/v1/pipelines", Status: 202, Token: 1},
		{Level: "info", Method: "GET", Route: "/v1/pipelines/{id}", Status: 200, Token: 1},
		{Level: "info", Method: "GET", Route: "/v1/pipelines", Status: 400, Token: 1},
		{Level: "info", Method: "GET", Route: "unmatched", Status: 404, Token: 1},
		// A wrong token gets no access line: the summary of refusals has it.
		{Level: "warn", Client: "127.0.0.1"},
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), w.logs.String())
	}
	for i, l := range lines {
		if l.Duration <= 0 && l.Client == "" {
			t.Errorf("line %d has no duration", i)
		}
		l.Duration, l.Message = 0, ""
		if l != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, l, want[i])
		}
	}
	for _, secret := range []string{tokenA, "wrong-token", "c2VjcmV0LWN1cnNvcg", "limit=5", rec.ID} {
		if strings.Contains(w.logs.String(), secret) {
			t.Errorf("the access log holds %q:\n%s", secret, w.logs.String())
		}
	}
}

// A record's JSON from the API is the tasks.Record JSON: nothing renamed,
// nothing the Go API has that the spec's Record lacks.
func TestRecordSchemaCoversEveryField(t *testing.T) {
	t.Parallel()
	doc, _ := loadSpec(t)
	matches := func(name string, props openapi3.Schemas, v any) {
		t.Helper()
		b, _ := json.Marshal(v)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		for k := range m {
			if props[k] == nil {
				t.Errorf("schema %s lacks %q", name, k)
			}
		}
		for k := range props {
			if _, ok := m[k]; !ok {
				t.Errorf("schema %s has %q, which the Go type does not marshal", name, k)
			}
		}
	}
	check := func(name string, v any) {
		t.Helper()
		matches(name, doc.Components.Schemas[name].Value.Properties, v)
	}
	// The option objects Swonkie documents are inline in PostSpec.
	checkInline := func(prop string, v any) {
		t.Helper()
		matches("PostSpec."+prop, doc.Components.Schemas["PostSpec"].Value.Properties[prop].Value.Properties, v)
	}
	// Every field set, so that none is left out by omitempty (but the
	// internal ones, fingerprint and dueAt, which are never shown).
	now := time.Now()
	one := 1
	check("Record", tasks.Record{ID: "i", Key: "k", Workspace: "w", State: "s", Step: "s", Media: []tasks.MediaItem{},
		StaleMedia: []tasks.StaleMedia{{}}, PostID: "p", PostCreated: true, PostType: "t", PostStage: "s", LabelIDs: []string{"l"}, PostPublishAt: &now, Staged: true,
		PostWithdrawn: true, Publication: []tasks.ProfileResult{{}}, Partial: true, Webhook: &tasks.WebhookState{},
		Error: &tasks.StepError{}, Attempts: 1, CancelRequested: true, Replays: 1, ReplayedAt: &now, Cleanup: "c", AttachedAt: &now,
		PublishedAt: &now, FinishedAt: &now, History: []tasks.Event{}, TraceID: "0af7651916cd43dd8448eb211c80319c",
		Preflight: &tasks.Preflight{}})
	check("Preflight", tasks.Preflight{At: now, Media: []tasks.ProbedItem{}, Problems: []tasks.Finding{{}}, Warnings: []tasks.Finding{{}}})
	check("CheckResult", tasks.CheckResult{Valid: true, Problems: []tasks.Finding{}, Warnings: []tasks.Finding{}, Media: []tasks.ProbedItem{}})
	check("ProbedItem", tasks.ProbedItem{Name: "n", ContentType: "c", Size: 1, Info: &mediainfo.Info{}, Error: "e"})
	check("MediaInfo", mediainfo.Info{Kind: "video", Duration: time.Second, VideoCodec: "h264", AudioCodec: "aac", Animated: true})
	check("Finding", tasks.Finding{Severity: "error", Item: "i", Network: "n", Rule: "r", Value: "v", Limit: "l", Source: "s", Message: "m"})
	item := tasks.MediaItem{Source: "s", Name: "n", ContentType: "c", MediaID: "m", Status: "s", Bytes: 1, Generation: 1,
		MediaCreatedAt: &now, ConfirmedAt: &now, ReadyAt: &now}
	item.Deleted, item.LeftBehind = true, true
	check("MediaItem", item)
	stale := tasks.StaleMedia{MediaID: "m", Item: 1, Reason: "r"}
	stale.Deleted, stale.LeftBehind = true, true
	check("StaleMedia", stale)
	check("StepError", tasks.StepError{Step: "s", Status: 1, Message: "m", Permanent: true, At: now})
	check("Event", tasks.Event{At: now, Step: "s", Item: &one, Outcome: "o", Message: "m"})
	check("PublishRequest", tasks.Request{Key: "k", Workspace: "w", Media: []tasks.MediaSource{}, Post: &tasks.PostSpec{}, PostID: "p", Action: "a", Cleanup: "c",
		Webhook: &tasks.WebhookSpec{}})
	check("WebhookSpec", tasks.WebhookSpec{URL: "u", Events: []string{"e"}})
	check("ProfileResult", tasks.ProfileResult{ProfileID: "p", Network: "n", PublishStatus: "s"})
	check("WebhookState", tasks.WebhookState{URL: "u", State: "s", Attempts: 1, LastStatus: 1, LastError: "e", DeliveredAt: &now, Events: []tasks.Notice{}})
	check("Notice", tasks.Notice{ID: "i", Type: "t", At: now, State: "s", Attempts: 1, LastStatus: 1, LastError: "e", DeliveredAt: &now, Redeliveries: 1, Attempt: 1, RedeliveredAt: &now})
	check("WebhookEvent", tasks.WebhookEvent{Type: "t", Timestamp: now, Data: &tasks.Record{}})
	check("MediaSource", tasks.MediaSource{Source: "s", Name: "n", ContentType: "c", Net: "n"})
	yes, zero := true, 0
	check("PostSpec", tasks.PostSpec{Type: "t", ProfileIDs: []string{}, Caption: "c", FirstComment: "f", PublishAt: &now, LabelIDs: []string{"l"},
		Captions: []tasks.CaptionFor{{}}, Links: []tasks.LinkSpec{{}}, Facebook: &tasks.FacebookSpec{}, Instagram: &swonkie.InstagramOptions{},
		LinkedIn: &swonkie.LinkedInOptions{}, TikTok: &swonkie.TikTokOptions{}, Labels: []string{"l"}})
	check("CaptionFor", tasks.CaptionFor{Net: "n", Text: "t", FirstComment: "f"})
	check("LinkSpec", tasks.LinkSpec{URL: "u", Title: "t", Description: "d", Net: "n", MediaIndex: &zero})
	check("FacebookOptions", tasks.FacebookSpec{Carousels: []tasks.CarouselCard{{}}, CarouselEndCard: &yes})
	check("CarouselCard", tasks.CarouselCard{Link: "l", Title: "t", Description: "d", MediaIndex: &zero, CallToAction: "c"})
	checkInline("instagram", swonkie.InstagramOptions{ShareToFeed: &yes})
	checkInline("linkedIn", swonkie.LinkedInOptions{DocumentTitle: "d"})
	checkInline("tiktok", swonkie.TikTokOptions{Title: "t", AutoAddMusic: &yes, DisableComments: &yes, DisableDuet: &yes, DisableStitch: &yes,
		IsBrandedContent: &yes, IsBrandOrganic: &yes, IsAiGenerated: &yes})
	check("RecordPage", tasks.RecordPage{Records: []*tasks.Record{}, Next: "n"})
	check("PipelineEdit", tasks.Edit{Post: &tasks.PostEdit{}, Action: "a"})
	check("BulkRequest", tasks.BulkRequest{Action: "a", Filter: tasks.BulkFilter{}, Shift: "s", At: &now, DryRun: true})
	check("BulkFilter", tasks.BulkFilter{States: []tasks.State{"s"}, KeyPrefix: "k", Label: "l", Profile: "p", Workspace: "w",
		CreatedFrom: &now, CreatedTo: &now, PublishAtFrom: &now, PublishAtTo: &now})
	check("Operation", tasks.Operation{ID: "i", Request: tasks.BulkRequest{}, Who: "w", State: "s", Matched: 1, Done: 1, Skipped: map[string]int{},
		Failed: 1, Errors: []tasks.OperationError{{}}, StartedAt: now, UpdatedAt: now, FinishedAt: &now})
	check("OperationError", tasks.OperationError{PipelineID: "p", Message: "m"})
	matches("PipelineEdit.post", doc.Components.Schemas["PipelineEdit"].Value.Properties["post"].Value.Properties,
		tasks.PostEdit{ProfileIDs: []string{"p"}, Caption: new(string), FirstComment: new(string), PublishAt: &now, LabelIDs: []string{"l"}, Labels: []string{"l"}})
	check("Problem", Problem{Type: "t", Title: "t", Status: 400, Detail: "d", Instance: "i", Errors: []tasks.Problem{{}}, PipelineID: "p"})
}

// The request examples in openapi.yaml are requests the API accepts, and
// they match the file's own request schema.
func TestSpecExamplesAreAccepted(t *testing.T) {
	t.Parallel()
	doc, _ := loadSpec(t)
	w := newWorld(t, worldOptions{})
	n := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.RequestBody == nil {
				continue
			}
			mt := op.RequestBody.Value.Content.Get("application/json")
			for name, ex := range mt.Examples {
				n++
				t.Run(method+" "+path+" "+name, func(t *testing.T) {
					if err := mt.Schema.Value.VisitJSON(ex.Value.Value, openapi3.EnableJSONSchema2020()); err != nil {
						t.Errorf("the example does not match its schema: %v", err)
					}
					b, err := json.Marshal(ex.Value.Value)
					if err != nil {
						t.Fatal(err)
					}
					if r := w.do(t, call{method: method, path: path, body: string(b)}); r.status != http.StatusAccepted {
						t.Errorf("the example answered %d: %s", r.status, r.body)
					}
				})
			}
		}
	}
	if n == 0 {
		t.Error("openapi.yaml has no request examples")
	}
}

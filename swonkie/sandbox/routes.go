package sandbox

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// route is one endpoint: its method and template name it in the fault
// plan, in Stats and in logs.
type route struct {
	method, template string
	// api routes live under /v2: authenticated, subject to Latency.
	api       bool
	auth      bool
	faultable bool
	handle    func(*Server, *exchange) reply
}

func (rt route) key() string {
	if rt.method == "" {
		return rt.template
	}
	return rt.method + " " + rt.template
}

// UploadTemplate is the endpoint template of uploads, as the client names
// it; the fault-plan key is "PUT {uploadUrl}".
const UploadTemplate = "{uploadUrl}"

// routePattern matches path segments; "{…}" segments are parameters.
type routePattern struct {
	prefix  string // "v2", "blob" or "_sandbox"
	pattern []string
	methods map[string]func(*Server, *exchange) reply
	// template overrides the one built from pattern (uploads).
	template string
}

var routes = []routePattern{
	{prefix: "v2", pattern: []string{"media"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodPost: (*Server).createMedia}},
	{prefix: "v2", pattern: []string{"media", "{id}"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).getMedia, http.MethodPatch: (*Server).confirmMedia, http.MethodDelete: (*Server).deleteMedia}},
	{prefix: "v2", pattern: []string{"posts"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).listPosts, http.MethodPost: (*Server).createPost}},
	{prefix: "v2", pattern: []string{"posts", "{id}"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).getPost, http.MethodPut: (*Server).updatePost, http.MethodDelete: (*Server).deletePost}},
	{prefix: "v2", pattern: []string{"posts", "{id}", "validate"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).validatePost}},
	{prefix: "v2", pattern: []string{"posts", "{id}", "stage", "{stage}"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodPatch: (*Server).changeStage}},
	{prefix: "v2", pattern: []string{"profiles"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).listProfiles}},
	{prefix: "v2", pattern: []string{"labels"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).listLabels, http.MethodPost: (*Server).createLabel}},
	{prefix: "blob", pattern: []string{"{id}"}, template: UploadTemplate, methods: map[string]func(*Server, *exchange) reply{
		http.MethodPut: (*Server).putBlob}},
	{prefix: "blob", pattern: []string{"{id}"}, template: "{path}", methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).getBlob, http.MethodHead: (*Server).getBlob}},
	{prefix: "blob", pattern: []string{"{id}", "preview"}, template: "{preview}", methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).getPreview, http.MethodHead: (*Server).getPreview}},
	{prefix: "_sandbox", pattern: []string{"stats"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodGet: (*Server).statsEndpoint}},
	{prefix: "_sandbox", pattern: []string{"clock", "advance"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodPost: (*Server).advanceEndpoint}},
	{prefix: "_sandbox", pattern: []string{"key"}, methods: map[string]func(*Server, *exchange) reply{
		http.MethodPost: (*Server).keyEndpoint}},
}

// faultEndpoints are the keys a FaultPlan may name: every API endpoint
// and the upload.
var faultEndpoints = func() []string {
	var keys []string
	for _, p := range routes {
		if p.prefix != "v2" && p.template != UploadTemplate {
			continue
		}
		for m := range p.methods {
			keys = append(keys, m+" "+p.templateString())
		}
	}
	slices.Sort(keys)
	return keys
}()

// Endpoints returns the endpoint keys a FaultPlan may name besides "*".
func Endpoints() []string { return slices.Clone(faultEndpoints) }

func (p routePattern) templateString() string {
	if p.template != "" {
		return p.template
	}
	if p.prefix == "v2" {
		return "/" + strings.Join(p.pattern, "/")
	}
	return "/" + p.prefix + "/" + strings.Join(p.pattern, "/")
}

// matchRoute finds r's route and path parameters. Paths are split on their
// escaped form, so an id holding an escaped '/' stays one segment and an
// unescaped one makes the path match nothing, as it would in production.
func matchRoute(r *http.Request) (route, []string) {
	if rt, ok := redirectSinkRoute(r); ok {
		return rt, nil
	}
	raw := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/"), "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return notFoundRoute(r), nil
		}
		segs[i] = u
	}
	var allowed []string
	for _, p := range routes {
		params, ok := p.match(segs)
		if !ok {
			continue
		}
		h, ok := p.methods[r.Method]
		if !ok {
			for m := range p.methods {
				allowed = append(allowed, m)
			}
			continue
		}
		return route{
			method:    r.Method,
			template:  p.templateString(),
			api:       p.prefix == "v2",
			auth:      p.prefix != "blob",
			faultable: p.prefix == "v2" || p.template == UploadTemplate,
			handle:    h,
		}, params
	}
	if len(allowed) > 0 {
		slices.Sort(allowed)
		allow := strings.Join(allowed, ", ")
		return route{template: "other", handle: func(*Server, *exchange) reply {
			rep := errorReply(http.StatusMethodNotAllowed, "Cannot "+r.Method+" "+r.URL.EscapedPath())
			rep.header = http.Header{"Allow": {allow}}
			return rep
		}}, nil
	}
	return notFoundRoute(r), nil
}

func notFoundRoute(r *http.Request) route {
	return route{template: "other", handle: func(*Server, *exchange) reply {
		return errorReply(http.StatusNotFound, "Cannot "+r.Method+" "+r.URL.EscapedPath())
	}}
}

func (p routePattern) match(segs []string) ([]string, bool) {
	if len(segs) != len(p.pattern)+1 || segs[0] != p.prefix {
		return nil, false
	}
	var params []string
	for i, want := range p.pattern {
		got := segs[i+1]
		if strings.HasPrefix(want, "{") {
			if got == "" {
				return nil, false
			}
			params = append(params, got)
			continue
		}
		if got != want {
			return nil, false
		}
	}
	return params, true
}

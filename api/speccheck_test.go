package api

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/redis/go-redis/v9"
)

// Every response a test receives goes through checkAgainstSpec, which
// fails the test when openapi.yaml does not document the status for the
// route or the headers and body do not match its schemas, and notes the
// status. TestMain then fails the run when a documented status was never
// observed: together, the statuses the handler answers and the ones the
// file documents are the same set.

var spec struct {
	once   sync.Once
	doc    *openapi3.T
	router routers.Router
	err    error
}

func loadSpec(t testing.TB) (*openapi3.T, routers.Router) {
	t.Helper()
	spec.once.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(Spec)
		if err != nil {
			spec.err = fmt.Errorf("load openapi.yaml: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			spec.err = fmt.Errorf("openapi.yaml is not a valid OpenAPI document: %w", err)
			return
		}
		// The server URL is relative; route on paths alone.
		doc.Servers = nil
		spec.doc = doc
		spec.router, spec.err = legacy.NewRouter(doc)
	})
	if spec.err != nil {
		t.Fatal(spec.err)
	}
	return spec.doc, spec.router
}

// unmatched is the key of statuses answered outside every documented
// operation: the NotFound and MethodNotAllowed responses.
const unmatched = "unmatched"

var observed = struct {
	sync.Mutex
	m map[string]map[int]bool
}{m: map[string]map[int]bool{}}

func observe(op string, status int) {
	observed.Lock()
	defer observed.Unlock()
	if observed.m[op] == nil {
		observed.m[op] = map[int]bool{}
	}
	observed.m[op][status] = true
}

func checkAgainstSpec(t *testing.T, req *http.Request, r response) {
	t.Helper()
	doc, router := loadSpec(t)
	lookup := req
	if req.Method == http.MethodHead {
		// HEAD is answered as GET without a body.
		lookup = req.Clone(req.Context())
		lookup.Method = http.MethodGet
	}
	route, params, err := router.FindRoute(lookup)
	if err == nil && !sameShape(route.Path, req.URL.Path) {
		// The router forgives a trailing slash; the API does not.
		err = &routers.RouteError{Reason: routers.ErrPathNotFound.Error()}
	}
	if err == nil && route.Path != req.URL.Path && doc.Paths.Value(req.URL.Path) != nil {
		// A concrete path is matched before a templated one (OpenAPI
		// 3.1, Paths Object): GET /v1/pipelines/validate is a method the
		// validate path lacks, not a pipeline named "validate".
		err = &routers.RouteError{Reason: routers.ErrMethodNotAllowed.Error()}
	}
	if err != nil {
		checkUnmatched(t, doc, router, req, r)
		return
	}
	op := route.Method + " " + route.Path
	if req.Method == http.MethodHead {
		if r.status == http.StatusMethodNotAllowed || len(r.body) != 0 {
			t.Errorf("HEAD %s: %d with %d bytes, want it answered as GET without a body", req.URL.Path, r.status, len(r.body))
		}
		return
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Errorf("%s %s answered %d, which openapi.yaml does not describe: %v\nbody: %s", req.Method, req.URL.Path, r.status, err, r.body)
		return
	}
	observe(op, r.status)
}

// checkUnmatched checks an answer to a path or method the spec does not
// list: 401 before anything else (except on the public spec path), then
// 404 or 405 as the NotFound and MethodNotAllowed responses describe.
func checkUnmatched(t *testing.T, doc *openapi3.T, router routers.Router, req *http.Request, r response) {
	t.Helper()
	want, name := http.StatusNotFound, "NotFound"
	// The router reports a missing method on a templated path as a missing
	// path, so look for the path under the methods the spec uses.
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		other := req.Clone(req.Context())
		other.Method = m
		if route, _, err := router.FindRoute(other); err == nil && sameShape(route.Path, req.URL.Path) {
			want, name = http.StatusMethodNotAllowed, "MethodNotAllowed"
		}
	}
	switch r.status {
	case want:
	case http.StatusUnauthorized:
		name = "Unauthorized"
	case http.StatusTooManyRequests:
		// A client held back for its failed authentications is refused
		// before its path counts.
		name = "RateLimited"
	default:
		t.Errorf("%s %s (not in openapi.yaml): %d, want %d", req.Method, req.URL.Path, r.status, want)
		return
	}
	resp := doc.Components.Responses[name]
	if resp == nil {
		t.Fatalf("openapi.yaml has no components.responses.%s", name)
	}
	for h, ref := range resp.Value.Headers {
		if ref.Value.Required && r.header.Get(h) == "" {
			t.Errorf("%s %s: %d without the %s header", req.Method, req.URL.Path, r.status, h)
		}
	}
	if req.Method != http.MethodHead {
		schema := resp.Value.Content.Get("application/problem+json").Schema.Value
		var v any
		if err := json.Unmarshal(r.body, &v); err != nil {
			t.Errorf("%s %s: %d body is not JSON: %v", req.Method, req.URL.Path, r.status, err)
		} else if err := schema.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s %s: %d body does not match Problem: %v", req.Method, req.URL.Path, r.status, err)
		}
	}
	if name != "Unauthorized" && name != "RateLimited" {
		observe(unmatched, r.status)
	}
}

// sameShape reports whether path has as many segments as the template.
func sameShape(template, path string) bool {
	return strings.Count(template, "/") == strings.Count(path, "/") && !strings.HasSuffix(path, "/")
}

// TestMain runs the tests, then fails the run if openapi.yaml documents a
// status that no test observed. A run narrowed with -run observes only
// part of the API, so the check is skipped then.
func TestMain(m *testing.M) {
	flag.Parse()
	// Tests that stop Redis on purpose would flood the output with
	// go-redis's dial complaints; the answers are what they check.
	redis.SetLogger(quietRedis{})
	code := m.Run()
	if code == 0 && flag.Lookup("test.run").Value.String() == "" {
		if missing := unobserved(); len(missing) > 0 {
			fmt.Fprintln(os.Stderr, "openapi.yaml documents statuses no test observed (test them or drop them from the file):")
			for _, s := range missing {
				fmt.Fprintln(os.Stderr, "   ", s)
			}
			code = 1
		}
	}
	os.Exit(code)
}

type quietRedis struct{}

func (quietRedis) Printf(context.Context, string, ...any) {}

func unobserved() []string {
	doc, err := openapi3.NewLoader().LoadFromData(Spec)
	if err != nil {
		return []string{err.Error()}
	}
	observed.Lock()
	defer observed.Unlock()
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			for code := range op.Responses.Map() {
				n, err := strconv.Atoi(code)
				if err != nil || !observed.m[key][n] {
					missing = append(missing, key+" "+code)
				}
			}
		}
	}
	for name, code := range map[string]int{"NotFound": http.StatusNotFound, "MethodNotAllowed": http.StatusMethodNotAllowed} {
		if doc.Components.Responses[name] != nil && !observed.m[unmatched][code] {
			missing = append(missing, fmt.Sprintf("components.responses.%s %d", name, code))
		}
	}
	sort.Strings(missing)
	return slices.Compact(missing)
}

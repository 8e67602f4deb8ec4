package api

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// operationOf reads an operation answer.
func operationOf(t *testing.T, r response) *tasks.Operation {
	t.Helper()
	var op tasks.Operation
	if err := json.Unmarshal(r.body, &op); err != nil {
		t.Fatalf("operation body %s: %v", r.body, err)
	}
	return &op
}

// waitOperation follows an operation at its URL until it is over.
func (w *world) waitOperation(t *testing.T, token, location string) *tasks.Operation {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		r := w.do(t, call{method: http.MethodGet, path: location, token: token})
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: %d %s", location, r.status, r.body)
		}
		if op := operationOf(t, r); op.State != tasks.OperationRunning {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s still running", location)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// POST /v1/pipelines/bulk starts an operation at once (202, Location)
// that acts on every pipeline its filter matches and on no other; its
// progress is read at GET /v1/operations/{id}. Bodies that are not a
// bulk request are refused as publish refuses them.
func TestBulkOverHTTP(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{maxBody: 4096, bodyTimeout: 300 * time.Millisecond})
	keyed := func(key string) string {
		return strings.Replace(validRequest(key), `{"media"`, `{"key":"`+key+`","media"`, 1)
	}
	var camp []string
	for _, k := range []string{"camp-1", "camp-2", "camp-3"} {
		camp = append(camp, w.mustPublish(t, keyed(k)).ID)
	}
	other := w.mustPublish(t, keyed("other-1")).ID

	r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/bulk", body: `{"action":"cancel","filter":{"keyPrefix":"camp-"}}`})
	if r.status != http.StatusAccepted || !strings.HasPrefix(r.header.Get("Location"), "/v1/operations/") {
		t.Fatalf("bulk cancel: %d %s %v", r.status, r.body, r.header)
	}
	op := w.waitOperation(t, "", r.header.Get("Location"))
	if op.State != tasks.OperationDone || op.Matched != 3 || op.Done != 3 || op.Failed != 0 || len(op.Skipped) != 0 {
		t.Errorf("operation %+v; want 3 matched and done", op)
	}
	for _, id := range camp {
		if rec := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + id}).record(t); !rec.CancelRequested {
			t.Errorf("%s (camp-) was not cancelled", id)
		}
	}
	if rec := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + other}).record(t); rec.CancelRequested {
		t.Error("other-1, outside the filter, was cancelled")
	}
	if r := w.do(t, call{method: http.MethodGet, path: "/v1/operations/0193a000-0000-7000-8000-000000000000"}); r.status != http.StatusNotFound {
		t.Errorf("an unknown operation: %d", r.status)
	}

	big := `{"action":"cancel","filter":{"keyPrefix":"` + strings.Repeat("x", 5000) + `"}}`
	for _, tt := range []struct {
		name, contentType, body string
		status                  int
		problem                 string
		fields                  []string
	}{
		{"unknown action", "", `{"action":"explode","filter":{}}`, 400, typeInvalid, []string{"action"}},
		{"reschedule without a time", "", `{"action":"reschedule","filter":{}}`, 400, typeInvalid, []string{"shift"}},
		{"unknown field", "", `{"action":"cancel","filter":{"colour":"red"}}`, 400, typeMalformed, []string{"filter.colour"}},
		{"empty body", "application/json", ``, 400, typeMalformed, nil},
		{"not JSON", "text/plain", `{"action":"cancel","filter":{}}`, 415, typeMediaType, nil},
		{"too large", "", big, 413, typeTooLarge, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/bulk", contentType: tt.contentType, body: tt.body})
			p := r.problem(t)
			if r.status != tt.status || p.Type != tt.problem || !slices.Equal(fieldsOf(p), tt.fields) {
				t.Errorf("%d %s; want %d %s naming %v", r.status, r.body, tt.status, tt.problem, tt.fields)
			}
		})
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"action":`)) }()
	if r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/bulk", stream: pr}); r.status != http.StatusRequestTimeout {
		t.Errorf("a slow body: %d %s", r.status, r.body)
	}
}

// A token scoped to acme acts on acme's pipelines only: its operation's
// filter is acme, globex's pipeline is left alone, a globex filter is
// refused with 422, and an operation on every workspace is not its to
// read.
func TestScopedBulkStaysInItsWorkspace(t *testing.T) {
	t.Parallel()
	w := scopedWorld(t)
	in := func(ws, caption string) string {
		return strings.Replace(validRequest(caption), `{"media"`, `{"workspace":"`+ws+`","media"`, 1)
	}
	a := w.mustPublish(t, in("acme", "for acme"))
	g := w.mustPublish(t, in("globex", "for globex"))

	r := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/bulk", token: tokenCMS, body: `{"action":"cancel","filter":{"workspace":"globex"}}`})
	if p := r.problem(t); r.status != http.StatusUnprocessableEntity || !slices.Equal(fieldsOf(p), []string{"filter.workspace"}) {
		t.Errorf("a globex filter from acme's token: %d %s", r.status, r.body)
	}
	r = w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/bulk", token: tokenCMS, body: `{"action":"cancel","filter":{}}`})
	if r.status != http.StatusAccepted {
		t.Fatalf("bulk cancel: %d %s", r.status, r.body)
	}
	op := w.waitOperation(t, tokenCMS, r.header.Get("Location"))
	if op.Request.Filter.Workspace != "acme" || op.Matched != 1 || op.Done != 1 {
		t.Errorf("operation %+v; want acme's one pipeline", op)
	}
	if rec := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + a.ID}).record(t); !rec.CancelRequested {
		t.Error("acme's pipeline was not cancelled")
	}
	if rec := w.do(t, call{method: http.MethodGet, path: "/v1/pipelines/" + g.ID}).record(t); rec.CancelRequested {
		t.Error("a token scoped to acme cancelled globex's pipeline")
	}
	all := w.do(t, call{method: http.MethodPost, path: "/v1/pipelines/bulk", body: `{"action":"cancel","filter":{},"dryRun":true}`})
	if all.status != http.StatusAccepted {
		t.Fatalf("an unscoped dry run: %d %s", all.status, all.body)
	}
	if r := w.do(t, call{method: http.MethodGet, path: all.header.Get("Location"), token: tokenCMS}); r.status != http.StatusNotFound {
		t.Errorf("acme's token read an operation on every workspace: %d", r.status)
	}
}

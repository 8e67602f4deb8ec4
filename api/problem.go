package api

import (
	"net/http"

	"github.com/mediaflow/mediaflow/tasks"
)

// Problem is an RFC 9457 problem details object: every error the API
// answers is one, as application/problem+json.
type Problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
	// Errors lists what is wrong with each field of an invalid request,
	// named by its JSON path ("media[0].source") or query parameter.
	Errors []tasks.Problem `json:"errors,omitempty"`
	// PipelineID names the pipeline a conflict is about.
	PipelineID string `json:"pipelineId,omitempty"`
}

// Problem types. They are URNs, not URLs: RFC 9457 asks clients not to
// dereference them, and a URN cannot go stale with a documentation site.
const (
	typeMalformed        = "urn:mediaflow:problem:malformed-body"
	typeInvalid          = "urn:mediaflow:problem:invalid-request"
	typeUnauthorized     = "urn:mediaflow:problem:unauthorized"
	typeNotFound         = "urn:mediaflow:problem:not-found"
	typeMethod           = "urn:mediaflow:problem:method-not-allowed"
	typeKeyReused        = "urn:mediaflow:problem:key-reused"
	typeFinished         = "urn:mediaflow:problem:pipeline-finished"
	typeAlreadyPublished = "urn:mediaflow:problem:already-published"
	typeTooLarge         = "urn:mediaflow:problem:body-too-large"
	typeTimeout          = "urn:mediaflow:problem:body-timeout"
	typeMediaType        = "urn:mediaflow:problem:unsupported-media-type"
	typeRateLimited      = "urn:mediaflow:problem:rate-limited"
	typeAuthThrottled    = "urn:mediaflow:problem:auth-throttled"
	typeInternal         = "urn:mediaflow:problem:internal"
	typeWorkspace        = "urn:mediaflow:problem:unknown-workspace"
	typeProfile          = "urn:mediaflow:problem:unusable-profile"
)

// writeProblem answers p. The instance is the request path without its
// query, which may carry a cursor or other values not worth echoing.
func writeProblem(w http.ResponseWriter, r *http.Request, p Problem) {
	if p.Title == "" {
		p.Title = http.StatusText(p.Status)
	}
	p.Instance = r.URL.Path
	body, err := marshal(p)
	if err != nil {
		// A Problem holds only strings and ints; this cannot happen, but
		// an empty answer with the right status is still better than none.
		w.WriteHeader(p.Status)
		return
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_, _ = w.Write(body)
}

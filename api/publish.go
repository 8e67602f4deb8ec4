package api

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/tasks"
)

// stepTimeout bounds the Redis work of one request. That work is detached
// from the client's connection: a client that hangs up between storing a
// record and enqueuing its first step must not leave the pipeline half
// started.
const stepTimeout = 10 * time.Second

func detached(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(r.Context()), stepTimeout)
}

// publish is POST /v1/pipelines.
func (h *Handler) publish(w http.ResponseWriter, r *http.Request) {
	req, ok := h.readRequest(w, r)
	if !ok {
		return
	}
	ctx, cancel := detached(r)
	defer cancel()
	rec, created, err := h.client.Publish(ctx, req)
	var unknown *tasks.WorkspaceError
	var invalid *tasks.ValidationError
	switch {
	case errors.As(err, &invalid) && invalid.Unusable:
		writeProblem(w, r, Problem{Type: typeProfile, Status: http.StatusUnprocessableEntity,
			Detail: "the post names a profile that cannot take it; nothing was queued", Errors: invalid.Problems})
		return
	case errors.As(err, &invalid):
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest,
			Detail: "the publish request is invalid; nothing was queued", Errors: invalid.Problems})
		return
	case errors.As(err, &unknown):
		writeProblem(w, r, Problem{Type: typeWorkspace, Status: http.StatusUnprocessableEntity,
			Detail: unknown.Error() + "; nothing was queued", Errors: []tasks.Problem{unknown.Problem}})
		return
	case errors.Is(err, tasks.ErrKeyReused):
		p := Problem{Type: typeKeyReused, Status: http.StatusConflict,
			Detail: "this idempotency key was already used for a different request; use a new key for a new request"}
		if rec != nil && visible(r, rec) {
			p.PipelineID = rec.ID
		}
		writeProblem(w, r, p)
		return
	case err != nil && rec == nil:
		h.internal(w, r, "publish", err)
		return
	case err != nil:
		// The record is stored and the sweep enqueues the steps of a
		// pending pipeline, so the request is accepted all the same.
		h.log.Warn().Ctx(r.Context()).Err(err).Str("pipeline", rec.ID).Msg("api: enqueue the first steps failed; the sweep will enqueue them")
	}
	w.Header().Set("Location", "/v1/pipelines/"+rec.ID)
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
		h.writeJSON(w, r, http.StatusOK, rec)
		return
	}
	h.writeJSON(w, r, http.StatusAccepted, rec)
}

// readRequest reads a publish request's body and its Idempotency-Key
// header, or answers why it cannot (415, 413, 400) and returns false.
func (h *Handler) readRequest(w http.ResponseWriter, r *http.Request) (tasks.Request, bool) {
	body, ok := h.readJSONBody(w, r)
	if !ok {
		return tasks.Request{}, false
	}
	req, err := tasks.DecodeRequestBytes(body)
	if err != nil {
		p := Problem{Type: typeMalformed, Status: http.StatusBadRequest, Detail: err.Error()}
		if uf := (*tasks.UnknownFieldError)(nil); errors.As(err, &uf) {
			p.Errors = []tasks.Problem{uf.Problem()}
		}
		writeProblem(w, r, p)
		return tasks.Request{}, false
	}
	if p, ok := mergeKey(r.Header, &req); !ok {
		writeProblem(w, r, Problem{Type: typeInvalid, Status: http.StatusBadRequest,
			Detail: "the idempotency key is unusable; nothing was queued", Errors: []tasks.Problem{p}})
		return tasks.Request{}, false
	}
	if unknown := scopeRequest(r, &req); unknown != nil {
		writeProblem(w, r, Problem{Type: typeWorkspace, Status: http.StatusUnprocessableEntity,
			Detail: unknown.Error() + "; nothing was queued", Errors: []tasks.Problem{unknown.Problem}})
		return tasks.Request{}, false
	}
	return req, true
}

// mergeKey moves the Idempotency-Key header into req.Key. The header may
// be a bare token or, as the IETF draft defines it, a quoted structured
// field string; a body key that says otherwise is a conflict, not a
// preference.
func mergeKey(hdr http.Header, req *tasks.Request) (tasks.Problem, bool) {
	vals := hdr.Values("Idempotency-Key")
	switch len(vals) {
	case 0:
		return tasks.Problem{}, true
	case 1:
	default:
		return tasks.Problem{Field: "Idempotency-Key", Message: "give the header once"}, false
	}
	key := strings.TrimSpace(vals[0])
	if len(key) >= 2 && key[0] == '"' && key[len(key)-1] == '"' {
		if s, err := strconv.Unquote(key); err == nil {
			key = s
		}
	}
	if key == "" {
		return tasks.Problem{Field: "Idempotency-Key", Message: "empty; leave the header out or give a key"}, false
	}
	if body := strings.TrimSpace(req.Key); body != "" && body != key {
		return tasks.Problem{Field: "key", Message: "differs from the Idempotency-Key header; give one or make them equal"}, false
	}
	req.Key = key
	return tasks.Problem{}, true
}

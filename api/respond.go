package api

import (
	"bytes"
	"encoding/json"
	"net/http"
)

// writeJSON answers v as JSON with status.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := marshal(v)
	if err != nil {
		h.internal(w, r, "encode the answer", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// marshal encodes v as one line of JSON without HTML escaping: the answers
// are read by programs, and a caption's "<" or "&" should read as written.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// internal answers 500 without the cause, which may name Redis addresses
// or keys, and logs the cause for the operator.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, step string, err error) {
	h.log.Error().Ctx(r.Context()).Err(err).Str("method", r.Method).Str("route", r.Pattern).Str("step", step).Msg("api request failed")
	writeProblem(w, r, Problem{Type: typeInternal, Status: http.StatusInternalServerError,
		Detail: "the request could not be completed; retry later (with the same Idempotency-Key, when publishing)"})
}

package api

import (
	"encoding/json"
	"net/http"
)

// writeJSON answers v as JSON with status.
func (h *Handler) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		h.internal(w, r, "encode the answer", err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(body, '\n'))
}

// internal answers 500 without the cause, which may name Redis addresses
// or keys, and logs the cause for the operator.
func (h *Handler) internal(w http.ResponseWriter, r *http.Request, step string, err error) {
	h.log.Error().Err(err).Str("method", r.Method).Str("route", r.Pattern).Str("step", step).Msg("api request failed")
	writeProblem(w, r, Problem{Type: typeInternal, Status: http.StatusInternalServerError,
		Detail: "the request could not be completed; retry later (with the same Idempotency-Key, when publishing)"})
}

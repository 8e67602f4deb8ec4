package api

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"
)

// readJSONBody returns the body of a request that declares JSON and fits
// the size limit, or answers 415 or 413 and returns false. The body is read
// whole (it is at most MaxBody) so that too large is told apart from
// malformed before anything is decoded.
func (h *Handler) readJSONBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if !isJSON(r.Header.Get("Content-Type")) {
		w.Header().Set("Accept-Post", "application/json")
		writeProblem(w, r, Problem{Type: typeMediaType, Status: http.StatusUnsupportedMediaType,
			Detail: "send the publish request as Content-Type: application/json"})
		return nil, false
	}
	if r.ContentLength > h.maxBody {
		w.Header().Set("Connection", "close")
		h.tooLarge(w, r)
		return nil, false
	}
	// The server bounds only the headers' arrival; a client trickling its
	// body must not hold a connection and a goroutine for ever.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.bodyTimeout))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		h.tooLarge(w, r)
		return nil, false
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.Header().Set("Connection", "close")
		writeProblem(w, r, Problem{Type: typeTimeout, Status: http.StatusRequestTimeout,
			Detail: fmt.Sprintf("the request body did not arrive within %s", h.bodyTimeout)})
		return nil, false
	case err != nil:
		writeProblem(w, r, Problem{Type: typeMalformed, Status: http.StatusBadRequest,
			Detail: "reading the request body: the body was cut short"})
		return nil, false
	}
	return body, true
}

func (h *Handler) tooLarge(w http.ResponseWriter, r *http.Request) {
	writeProblem(w, r, Problem{Type: typeTooLarge, Status: http.StatusRequestEntityTooLarge,
		Detail: fmt.Sprintf("the request body is larger than %d bytes", h.maxBody)})
}

// isJSON accepts application/json, with a UTF-8 charset or none (JSON is
// UTF-8 by definition, RFC 8259 §8.1).
func isJSON(contentType string) bool {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || mt != "application/json" {
		return false
	}
	cs, ok := params["charset"]
	return !ok || strings.EqualFold(cs, "utf-8")
}

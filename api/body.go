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
	// The deadline set by startBodyDeadline bounds this read.
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

// startBodyDeadline gives a request that announces a body bodyTimeout to
// deliver it, counted from its arrival: before authentication, so that a
// stranger who promises a body and never sends it cannot hold a connection
// and a goroutine (net/http reads an unread body before it answers). It
// covers every route, public ones included.
func (h *Handler) startBodyDeadline(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(h.bodyTimeout))
}

// closeUnread marks the answer to a refused request as the connection's
// last when the request's body has not been read, so that net/http sends
// the refusal at once instead of first waiting for a body that may never
// come.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody {
		w.Header().Set("Connection", "close")
	}
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

package sandbox

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/mediaflow/mediaflow/swonkie"
)

// reply is what a handler answers; it is written (or, on a lost-reply
// fault, dropped) by ServeHTTP.
type reply struct {
	status int
	header http.Header
	body   any // encoded as JSON unless nil
	// raw, when set, is sent as is with contentType instead of body.
	raw         []byte
	contentType string
}

// unusable swaps a committed 2xx answer's body for one the client cannot
// read (FaultBadBody), keeping its status.
func unusable(rep reply, kind string) reply {
	out := reply{status: rep.status, contentType: "application/json; charset=utf-8"}
	switch kind {
	case "html":
		out.raw, out.contentType = []byte("<html><body><h1>OK</h1></body></html>"), "text/html; charset=utf-8"
	case "empty":
		out.raw = []byte{}
	case "emptyObject":
		out.raw = []byte("{}")
	default: // truncated
		b, _ := encodeJSON(rep.body)
		out.raw = b[:len(b)/2]
	}
	return out
}

func encodeJSON(v any) ([]byte, error) {
	// No HTML escaping: URLs keep their '&' as a JSON API would send them.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(v)
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), err
}

// errorBody is the error shape of every refusal, NestJS style.
type errorBody struct {
	StatusCode int               `json:"statusCode"`
	Message    string            `json:"message"`
	Errors     []swonkie.Problem `json:"errors"`
}

func jsonReply(status int, body any) reply { return reply{status: status, body: body} }

func errorReply(status int, message string, problems ...swonkie.Problem) reply {
	if problems == nil {
		problems = []swonkie.Problem{}
	}
	return reply{status: status, body: errorBody{StatusCode: status, Message: message, Errors: problems}}
}

// success is the body of deletes and stage changes.
type success struct {
	Success bool          `json:"success"`
	Stage   swonkie.Stage `json:"stage,omitempty"`
}

func writeReply(w http.ResponseWriter, rep reply) {
	for k, vs := range rep.header {
		w.Header()[k] = vs
	}
	if rep.raw != nil {
		w.Header().Set("Content-Type", rep.contentType)
		w.Header().Set("Content-Length", strconv.Itoa(len(rep.raw)))
		w.WriteHeader(rep.status)
		_, _ = w.Write(rep.raw)
		return
	}
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	b, err := encodeJSON(rep.body)
	if err != nil {
		// Only our own types are encoded; failing here is a sandbox bug.
		http.Error(w, `{"statusCode":500,"message":"sandbox: encode reply: `+err.Error()+`","errors":[]}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(b)
}

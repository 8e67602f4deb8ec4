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
	if rep.body == nil {
		w.WriteHeader(rep.status)
		return
	}
	// No HTML escaping: URLs keep their '&' as a JSON API would send them.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	err := enc.Encode(rep.body)
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
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

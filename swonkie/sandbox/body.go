package sandbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strings"

	"github.com/mediaflow/mediaflow/swonkie"
)

// maxJSONBody bounds API request bodies; the largest legitimate one is a
// post with long captions.
const maxJSONBody = 1 << 20

// decodeBody reads r's JSON body into into, NestJS ValidationPipe style
// with forbidNonWhitelisted: the body must be declared application/json,
// be one valid JSON value, and carry no field the endpoint does not know.
// It returns nil on success, else the refusal to send.
func decodeBody(r *http.Request, into any) *reply {
	if rep := requireJSON(r); rep != nil {
		return rep
	}
	body := http.MaxBytesReader(nil, r.Body, maxJSONBody)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		return decodeError(err)
	}
	// Exactly one value: "{}{}" or "{} x" is not a body we understand.
	if _, err := dec.Token(); err != io.EOF {
		rep := errorReply(http.StatusBadRequest, "body is not valid JSON: data after the first value")
		return &rep
	}
	return nil
}

// requireNoBody accepts an endpoint that takes no body: nothing, or an
// empty JSON object.
func requireNoBody(r *http.Request) *reply {
	if r.ContentLength == 0 {
		return nil
	}
	var none struct{}
	return decodeBody(r, &none)
}

func requireJSON(r *http.Request) *reply {
	ct := r.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		rep := errorReply(http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return &rep
	}
	return nil
}

func decodeError(err error) *reply {
	var (
		syntax   *json.SyntaxError
		typ      *json.UnmarshalTypeError
		tooLarge *http.MaxBytesError
		rep      reply
	)
	switch {
	case errors.As(err, &tooLarge):
		rep = errorReply(http.StatusRequestEntityTooLarge, fmt.Sprintf("body is larger than %d bytes", maxJSONBody))
	case errors.Is(err, io.EOF):
		rep = errorReply(http.StatusBadRequest, "body is empty; a JSON object is required")
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		rep = errorReply(http.StatusBadRequest, "body is not valid JSON: "+err.Error())
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		rep = errorReply(http.StatusBadRequest, "body does not match the schema",
			swonkie.Problem{Field: field, Message: "must be " + jsonKind(typ.Type) + ", not " + typ.Value})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		rep = errorReply(http.StatusBadRequest, "property "+field+" should not exist",
			swonkie.Problem{Field: field, Message: "property " + field + " should not exist"})
	default:
		rep = errorReply(http.StatusBadRequest, "body does not match the schema: "+err.Error())
	}
	return &rep
}

// jsonKind names a Go type the way a JSON schema would.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k := t.Kind().String()
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "bool":
		return "a boolean"
	case k == "slice", k == "array":
		return "an array"
	default:
		return "an object"
	}
}

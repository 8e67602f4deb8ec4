package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// DecodeRequest reads one publish request from JSON, strictly: unknown
// fields, trailing data and wrong types are errors that name the field.
// The enqueue CLI's batch lines and the HTTP API's bodies both go through
// it, so the two accept exactly the same documents.
func DecodeRequest(r io.Reader) (Request, error) {
	var req Request
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return Request{}, describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Request{}, errors.New("unexpected data after the JSON object")
	}
	return req, nil
}

// DecodeRequestBytes is DecodeRequest on a byte slice.
func DecodeRequestBytes(b []byte) (Request, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return Request{}, errors.New("empty request")
	}
	return DecodeRequest(bytes.NewReader(b))
}

func describeJSONError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return errors.New("empty request")
	case errors.As(err, &syn):
		return fmt.Errorf("malformed JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		return fmt.Errorf("field %s: want %s, got a JSON %s", typ.Field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return fmt.Errorf("unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: the object is cut short")
	}
	return fmt.Errorf("malformed JSON: %v", err)
}

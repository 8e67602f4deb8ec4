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
	// Requests are small (the API and the CLI cap them), so reading one
	// whole to scan it twice costs nothing worth avoiding.
	b, err := io.ReadAll(r)
	if err != nil {
		return Request{}, fmt.Errorf("read request: %w", err)
	}
	if err := refuseDuplicateKeys(b); err != nil {
		return Request{}, err
	}
	var req Request
	dec := json.NewDecoder(bytes.NewReader(b))
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

// refuseDuplicateKeys rejects an object that names a key twice. encoding/json
// keeps the last value, so `"action":"publishNow","action":"draft"` would
// quietly become a draft; whoever wrote the document meant one of them and
// only they know which. Keys are compared case-insensitively because that
// is how encoding/json matches them to fields: "action" and "Action" land in
// the same one. Malformed JSON is left for the decoder to describe.
func refuseDuplicateKeys(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := scanValue(dec, "")
	if errors.Is(err, errMalformedScan) {
		return nil
	}
	return err
}

var errMalformedScan = errors.New("malformed")

func scanValue(dec *json.Decoder, path string) error {
	tok, err := dec.Token()
	if err != nil {
		return errMalformedScan
	}
	switch tok {
	case json.Delim('{'):
		seen := map[string]bool{}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return errMalformedScan
			}
			key, _ := kt.(string)
			fold := strings.ToLower(key)
			if seen[fold] {
				if path == "" {
					return fmt.Errorf("duplicate key %q: give each field once", key)
				}
				return fmt.Errorf("duplicate key %q in %s: give each field once", key, path)
			}
			seen[fold] = true
			if err := scanValue(dec, join(path, key)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errMalformedScan
		}
	case json.Delim('['):
		for i := 0; dec.More(); i++ {
			if err := scanValue(dec, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errMalformedScan
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"time"
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
	if err := checkKeys(b, reflect.TypeFor[Request]()); err != nil {
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

// UnknownFieldError is a request naming a field the schema does not have,
// at Path (post.tiktok.isPaid): a typo, or an option Swonkie does not
// document, refused before anything is queued.
type UnknownFieldError struct {
	Path string
}

func (e *UnknownFieldError) Error() string {
	name := e.Path[strings.LastIndexAny(e.Path, ".]")+1:]
	if name == e.Path {
		return fmt.Sprintf("unknown field %q", name)
	}
	return fmt.Sprintf("unknown field %q at %s", name, e.Path)
}

// Problem is the error as a request problem.
func (e *UnknownFieldError) Problem() Problem {
	return Problem{Field: e.Path, Message: "unknown field: the request schema has no such field"}
}

// checkKeys walks the document before it is decoded into t and rejects an
// object that names a key twice or a key t has no field for, naming the
// path of either. encoding/json keeps the last of two values, so
// `"action":"publishNow","action":"draft"` would quietly become a draft;
// whoever wrote the document meant one of them and only they know which.
// And its own unknown-field error does not say where. Keys are compared
// case-insensitively because that is how encoding/json matches them to
// fields: "action" and "Action" land in the same one. Malformed JSON is
// left for the decoder to describe.
func checkKeys(b []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	err := scanValue(dec, "", t)
	if errors.Is(err, errMalformedScan) {
		return nil
	}
	return err
}

var errMalformedScan = errors.New("malformed")

// scanValue reads one value at path, which should decode into t (nil: no
// check of its keys).
func scanValue(dec *json.Decoder, path string, t reflect.Type) error {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	tok, err := dec.Token()
	if err != nil {
		return errMalformedScan
	}
	switch tok {
	case json.Delim('{'):
		var fields map[string]reflect.Type
		if t != nil && t.Kind() == reflect.Struct && t != reflect.TypeFor[time.Time]() {
			fields = jsonFields(t)
		}
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
			ft, known := fields[fold]
			if fields != nil && !known {
				return &UnknownFieldError{Path: join(path, key)}
			}
			if err := scanValue(dec, join(path, key), ft); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errMalformedScan
		}
	case json.Delim('['):
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for i := 0; dec.More(); i++ {
			if err := scanValue(dec, fmt.Sprintf("%s[%d]", path, i), elem); err != nil {
				return err
			}
		}
		if _, err := dec.Token(); err != nil {
			return errMalformedScan
		}
	}
	return nil
}

// jsonFields are the JSON names (lower-cased, as encoding/json matches
// them) of t's fields and the types they decode into.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-" || !f.IsExported() && !f.Anonymous:
			continue
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		case name == "":
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

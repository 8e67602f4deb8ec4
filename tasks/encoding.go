package tasks

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// How a record is stored, decided here and nowhere else (the Redis side,
// keys and scripts, is internal/rdb's: doc.go and scripts.go).
//
// A record is kept in one of two forms:
//
//   - in parts, while a worker is on it (running, or finished and still
//     owing a cleanup or a webhook): the request (written once), the
//     document (everything that changes, rewritten by each step's write)
//     and the history (appended to). A step reads the first two and writes
//     the document, so its cost does not grow with the history;
//   - packed, while nobody is (accepted and not started yet; finished and
//     owing nothing): request, document and history in one compressed
//     value (pack), a quarter of the bytes. The write that starts a
//     pipeline lays it out in parts again, the write that leaves it
//     owing nothing packs it; a write to a packed record (a cancel of a
//     pending one, a redelivery, a replay) works like any other, and
//     leaves the form the record's new standing calls for (packs).
//
// The version goes on across forms, so compare-and-set works the same on
// both. Readers (Client.Get, List, the page, the API, migrations) see one
// Record whatever the form.

// packs reports whether a record with index meta m is stored packed:
// nobody is working on it.
func packs(r *Record, m rdb.Meta) bool {
	return r.State == StatePending || !m.Done.IsZero()
}

// storedRequest is the part of a record written once.
type storedRequest struct {
	ID          string  `json:"id"`
	Key         string  `json:"key,omitempty"`
	Request     Request `json:"request"`
	Fingerprint string  `json:"fingerprint"`
	// Trace is the record's trace context (a tracing.Carrier): written
	// once, like the request, and read only when a span needs it.
	Trace json.RawMessage `json:"trace,omitempty"`
}

// recordFields is Record without its methods, so storedDoc can embed it and
// shadow the fields that are not part of the document.
type recordFields Record

// storedDoc is the document: the record minus what storedRequest and the
// history hold (the shadowing fields are always empty, so omitted), plus
// the internals.
type storedDoc struct {
	*recordFields
	ID      string    `json:"id,omitempty"`
	Key     string    `json:"key,omitempty"`
	Request *struct{} `json:"request,omitempty"`
	History []Event   `json:"history,omitempty"`
	TraceID string    `json:"traceId,omitempty"`
	In      internals `json:"in"`
}

func encodeDoc(r *Record) ([]byte, error) {
	return json.Marshal(storedDoc{recordFields: (*recordFields)(r), In: r.in})
}

// decodeEntry is the record an entry holds, in either form.
func decodeEntry(e *rdb.Entry) (*Record, error) {
	r, _, err := decodeIf(e, nil)
	return r, err
}

// decodeIf is decodeEntry for a record whose parts (a packed one unpacked
// first) keep accepts, and nil, false for one it refuses: a search skips
// most records before the costly decoding.
func decodeIf(e *rdb.Entry, keep func(parts *rdb.Entry) bool) (*Record, bool, error) {
	parts := e
	if e.Packed != nil {
		var err error
		if parts, err = unpack(e.Packed); err != nil {
			return nil, false, unreadableError{fmt.Errorf("pipeline %s: %w", e.ID, err)}
		}
		parts.ID, parts.Version = e.ID, e.Version
	}
	if keep != nil && !keep(parts) {
		return nil, false, nil
	}
	r, err := decodeParts(parts)
	if err != nil {
		return nil, false, unreadableError{err}
	}
	r.packed = e.Packed != nil
	return r, true, nil
}

// unreadableError is a stored record this worker cannot decode: an error
// of that record alone, not of Redis (the sweep passes it, sweep.go).
type unreadableError struct{ err error }

func (e unreadableError) Error() string { return e.err.Error() }
func (e unreadableError) Unwrap() error { return e.err }

func decodeParts(e *rdb.Entry) (*Record, error) {
	var req storedRequest
	if err := json.Unmarshal(e.Req, &req); err != nil {
		return nil, fmt.Errorf("pipeline %s: stored request is not valid JSON: %w", e.ID, err)
	}
	r := &Record{}
	d := storedDoc{recordFields: (*recordFields)(r)}
	if err := json.Unmarshal(e.Doc, &d); err != nil {
		return nil, fmt.Errorf("pipeline %s: record is not valid JSON: %w", e.ID, err)
	}
	r.ID, r.Key, r.Request, r.fingerprint, r.in = req.ID, req.Key, req.Request, req.Fingerprint, d.In
	r.traceRaw = req.Trace
	r.applyEdited()
	r.version = e.Version
	for _, h := range e.History {
		var ev Event
		if json.Unmarshal(h, &ev) == nil {
			r.History = append(r.History, ev)
		}
	}
	return r, nil
}

func encodeEvents(evs []Event) [][]byte {
	out := make([][]byte, 0, len(evs))
	for _, ev := range evs {
		b, err := json.Marshal(ev)
		if err == nil {
			out = append(out, b)
		}
	}
	return out
}

// encodeNew encodes the two parts of a new record: its request (written
// once) and its document.
func encodeNew(rec *Record) (req, doc []byte, err error) {
	var trace json.RawMessage
	if len(rec.trace) > 0 {
		trace, _ = json.Marshal(rec.trace) // a map of strings always encodes
	} else if len(rec.traceRaw) > 0 {
		trace = rec.traceRaw
	}
	req, err = json.Marshal(storedRequest{ID: rec.ID, Key: rec.Key, Request: rec.Request, Fingerprint: rec.fingerprint, Trace: trace})
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline %s: encode request: %w", rec.ID, err)
	}
	doc, err = encodeDoc(rec)
	if err != nil {
		return nil, nil, fmt.Errorf("pipeline %s: encode record: %w", rec.ID, err)
	}
	return req, doc, nil
}

// body is what a write stores of after, in the form packs calls for:
// before is the record as read (nil for a new one), so its form is known.
// A record in parts that gets packed has its history read first (the
// compare-and-set that follows fails if anyone wrote since). The events
// are what to append, nil when they are inside the body. read is the
// history read to pack a record in parts (nil otherwise): after holds
// only the events since it was read, and a packed record must hold all.
func (s *store) body(ctx context.Context, before, after *Record, m rdb.Meta) (b rdb.Body, events [][]byte, read []Event, err error) {
	compact := packs(after, m) && !m.Done.IsZero()
	if compact {
		compactTimes(after) // compact.go
	}
	events = encodeEvents(after.events)
	if !packs(after, m) && before != nil && !before.packed {
		doc, err := encodeDoc(after)
		if err != nil {
			return rdb.Body{}, nil, nil, fmt.Errorf("pipeline %s: encode record: %w", after.ID, err)
		}
		return rdb.Body{Doc: doc}, events, nil, nil
	}
	req, doc, err := encodeNew(after)
	if err != nil {
		return rdb.Body{}, nil, nil, err
	}
	switch {
	case !packs(after, m) && before == nil:
		return rdb.Body{Req: req, Doc: doc}, events, nil, nil
	case !packs(after, m):
		return rdb.Body{Req: req, Doc: doc, History: encodeEvents(before.History)}, events, nil, nil
	}
	var history [][]byte
	switch {
	case before == nil:
	case before.packed:
		evs := before.History
		if compact {
			evs = compactEvents(evs)
		}
		history = encodeEvents(evs)
	default:
		if history, err = s.rdb.History(ctx, before.ID); err != nil {
			return rdb.Body{}, nil, nil, err
		}
		read = make([]Event, 0, len(history))
		for _, h := range history {
			var ev Event
			if json.Unmarshal(h, &ev) == nil {
				read = append(read, ev)
			}
		}
		if compact {
			read = compactEvents(read)
			history = encodeEvents(read)
		}
	}
	return rdb.Body{Packed: pack(req, doc, append(history, events...))}, nil, read, nil
}

// The packed form: a format byte, then the DEFLATE (with the format's
// preset dictionary, packDicts) of {"r": request, "d": document, "h":
// [events]}, each part as stored in parts. Records are packed in
// packFormat and read in any format of packDicts.
const packFormat = 2

type packedParts struct {
	R json.RawMessage   `json:"r"`
	D json.RawMessage   `json:"d"`
	H []json.RawMessage `json:"h"`
}

// pack is a record's packed value: req and doc as stored in parts, and
// its whole history (at most rdb.HistoryCap events: the first
// rdb.HistoryKeep and the latest, as the history list keeps them).
func pack(req, doc []byte, history [][]byte) []byte {
	history = trimHistory(history)
	var raw bytes.Buffer
	raw.Grow(len(req) + len(doc) + 64*len(history) + 16)
	raw.WriteString(`{"r":`)
	raw.Write(req)
	raw.WriteString(`,"d":`)
	raw.Write(doc)
	raw.WriteString(`,"h":[`)
	for i, h := range history {
		if i > 0 {
			raw.WriteByte(',')
		}
		raw.Write(h)
	}
	raw.WriteString(`]}`)
	var out bytes.Buffer
	out.Grow(raw.Len()/4 + 16)
	out.WriteByte(packFormat)
	w := packWriters.Get().(*flate.Writer)
	w.Reset(&out)
	_, _ = w.Write(raw.Bytes()) // a bytes.Buffer does not fail
	_ = w.Close()
	packWriters.Put(w)
	return out.Bytes()
}

// unpack is the parts of a packed value (without id and version).
func unpack(b []byte) (*rdb.Entry, error) {
	if len(b) == 0 || packDicts[b[0]] == nil {
		return nil, errors.New("packed record of an unknown format")
	}
	r := packReaders.Get().(io.ReadCloser)
	defer packReaders.Put(r)
	if err := r.(flate.Resetter).Reset(bytes.NewReader(b[1:]), packDicts[b[0]]); err != nil {
		return nil, fmt.Errorf("unpack record: %w", err)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("unpack record: %w", err)
	}
	var p packedParts
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("packed record is not valid JSON: %w", err)
	}
	e := &rdb.Entry{Req: p.R, Doc: p.D, History: make([][]byte, len(p.H))}
	for i, h := range p.H {
		e.History[i] = h
	}
	return e, nil
}

// trimHistory keeps what the history list keeps (rdb/scripts.go): the
// first HistoryKeep events and the latest ones, HistoryCap in all.
func trimHistory(h [][]byte) [][]byte {
	if len(h) <= rdb.HistoryCap {
		return h
	}
	out := append([][]byte{}, h[:rdb.HistoryKeep]...)
	return append(out, h[len(h)-(rdb.HistoryCap-rdb.HistoryKeep):]...)
}

var (
	packWriters = sync.Pool{New: func() any {
		w, _ := flate.NewWriterDict(nil, flate.DefaultCompression, packDicts[packFormat]) // the level is valid
		return w
	}}
	packReaders = sync.Pool{New: func() any {
		return flate.NewReaderDict(bytes.NewReader(nil), nil)
	}}
)

// packDicts are the preset dictionaries of each format: a record shaped
// as records are, so its field names and common values cost a few bits
// each. A dictionary is part of its format and must never change (a new
// dictionary is a new format byte); format 2 adds pre-flight's findings,
// which format 1 predates (a single-media record: 560 → 472 bytes).
var packDicts = map[byte][]byte{
	1: []byte(packDictText),
	2: []byte(packDictText + packDict2Text),
}

package sandbox

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"strings"
)

// idPrefix is what an id of each kind decodes to before its random part:
// the docs show post ids as "UG9zdElk…" (base64 of "PostId") and media ids
// as "TWVkaWFJZ…" ("MediaId").
var idPrefix = map[string]string{
	"media":   "MediaId",
	"post":    "PostId",
	"profile": "ProfileId",
	"label":   "LabelId",
}

// The random part of an id. Profile ids are ten seeded bytes: the
// workspace's profiles are the same on every start, as a real workspace's
// are, so a script may name them. Media, post and label ids are made by
// calls; theirs is the server's instance part, drawn from crypto/rand when
// the server is made, then seven seeded bytes. Two servers with the same
// seed (the in-process sandbox of two starts of a worker over one Redis)
// so never hand out the same id: a record kept from the first start cannot
// name what the second made for another pipeline.
//
// Every prefix plus random part is a length that is not a multiple of
// three, so every id ends in "=" or "==" like the documented profile ids.
const (
	profileRandomBytes = 10
	instanceBytes      = 6
	madeRandomBytes    = 7
)

// newID returns the next id of kind: standard base64 (alphabet with '+'
// and '/', '=' padding). Every id holds a '/' and every other one a '+'
// too, so a client that forgets to path-escape ids, or to query-escape
// them, breaks on its first request rather than on an unlucky seed. The
// caller holds s.mu.
func (s *Server) newID(kind string) string {
	s.idSeq[kind]++
	n := s.idSeq[kind]
	prefix := []byte(idPrefix[kind])
	if kind != "profile" {
		prefix = append(prefix, s.instance...)
	}
	size := len(prefix) + madeRandomBytes
	if kind == "profile" {
		size = len(prefix) + profileRandomBytes
	}
	raw := make([]byte, 0, size+8)
	for attempt := uint64(0); ; attempt++ {
		raw = append(raw[:0], prefix...)
		for i := uint64(0); len(raw) < size; i++ {
			x := draw(s.opts.Seed, "id "+kind, n, attempt<<8|i)
			for b := 0; b < 8 && len(raw) < size; b++ {
				raw = append(raw, byte(x>>(8*b)))
			}
		}
		id := base64.StdEncoding.EncodeToString(raw)
		if !strings.Contains(id, "/") || (n%2 == 1 && !strings.Contains(id, "+")) || s.ids[id] {
			continue
		}
		s.ids[id] = true
		return id
	}
}

// Instance is the part every media, post and label id this server makes
// carries, in hex: what InstanceOf returns for them.
func (s *Server) Instance() string { return hex.EncodeToString(s.instance) }

// InstanceOf returns the instance part of a media, post or label id a
// sandbox made, and false for any other id (a profile id, an id of the
// real API or of an older sandbox). A client that kept ids across a
// restart of its sandbox tells with it which ids the new one cannot know.
func InstanceOf(id string) (string, bool) {
	raw, err := base64.StdEncoding.DecodeString(id)
	if err != nil {
		return "", false
	}
	for kind, prefix := range idPrefix {
		if kind != "profile" && bytes.HasPrefix(raw, []byte(prefix)) && len(raw) == len(prefix)+instanceBytes+madeRandomBytes {
			return hex.EncodeToString(raw[len(prefix) : len(prefix)+instanceBytes]), true
		}
	}
	return "", false
}

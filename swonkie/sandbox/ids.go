package sandbox

import (
	"encoding/base64"
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

// idRandomBytes makes every prefix plus random part a length that is not a
// multiple of three, so every id ends in "=" or "==" like the documented
// profile ids.
const idRandomBytes = 10

// newID returns the next id of kind: standard base64 (alphabet with '+'
// and '/', '=' padding), deterministic for the seed. Every id holds a '/'
// and every other one a '+' too, so a client that forgets to path-escape
// ids, or to query-escape them, breaks on its first request rather than on
// an unlucky seed. The caller holds s.mu.
func (s *Server) newID(kind string) string {
	s.idSeq[kind]++
	n := s.idSeq[kind]
	prefix := idPrefix[kind]
	raw := make([]byte, 0, len(prefix)+idRandomBytes+6)
	for attempt := uint64(0); ; attempt++ {
		raw = append(raw[:0], prefix...)
		for i := uint64(0); len(raw) < len(prefix)+idRandomBytes; i++ {
			x := draw(s.opts.Seed, "id "+kind, n, attempt<<8|i)
			for b := 0; b < 8 && len(raw) < len(prefix)+idRandomBytes; b++ {
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

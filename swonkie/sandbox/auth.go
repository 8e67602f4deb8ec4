package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
)

// authorized checks the workspace credentials. Both sides are hashed
// before the constant-time comparison so that neither the values nor
// their lengths leak through timing.
func (s *Server) authorized(r *http.Request) bool {
	id := sha256.Sum256([]byte(r.Header.Get("X-API-ID")))
	key := sha256.Sum256([]byte(r.Header.Get("X-API-KEY")))
	okID := subtle.ConstantTimeCompare(id[:], s.idSum[:])
	okKey := subtle.ConstantTimeCompare(key[:], s.keySum[:])
	return okID&okKey == 1 && r.Header.Get("X-API-ID") != "" && r.Header.Get("X-API-KEY") != ""
}

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
	s.mu.Lock()
	keySum := s.keySum
	s.mu.Unlock()
	okID := subtle.ConstantTimeCompare(id[:], s.idSum[:])
	okKey := subtle.ConstantTimeCompare(key[:], keySum[:])
	return okID&okKey == 1 && r.Header.Get("X-API-ID") != "" && r.Header.Get("X-API-KEY") != ""
}

// SetAPIKey makes the workspace take key from now on and refuse the one
// it took before with 401, as when a key is revoked or rotated in the
// web app.
func (s *Server) SetAPIKey(key string) {
	sum := sha256.Sum256([]byte(key))
	s.mu.Lock()
	s.keySum = sum
	s.mu.Unlock()
}

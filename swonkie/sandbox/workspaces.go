package sandbox

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Workspaces serves several sandbox workspaces on one address, as the
// real service serves every workspace from one API: a /v2 call goes to
// the workspace its X-API-ID names (a call naming none of them is
// answered 401 by the first), an upload or a file to the workspace whose
// media it is. Each workspace is a Server of its own, with its own ids,
// state, faults, clock and statistics, so a test can count one
// workspace's calls apart from another's.
type Workspaces struct {
	servers []*Server
}

// NewWorkspaces makes one Server per Options; their API ids must differ.
func NewWorkspaces(opts ...Options) (*Workspaces, error) {
	if len(opts) == 0 {
		return nil, fmt.Errorf("sandbox workspaces: want at least one")
	}
	m := &Workspaces{}
	seen := map[string]bool{}
	for _, o := range opts {
		if seen[o.APIID] {
			return nil, fmt.Errorf("sandbox workspaces: API id %q used twice", o.APIID)
		}
		seen[o.APIID] = true
		s, err := New(o)
		if err != nil {
			return nil, err
		}
		m.servers = append(m.servers, s)
	}
	return m, nil
}

// Servers returns the workspaces, in the order they were given.
func (m *Workspaces) Servers() []*Server { return m.servers }

// Server returns the workspace with API id apiID, or nil.
func (m *Workspaces) Server(apiID string) *Server {
	for _, s := range m.servers {
		if s.opts.APIID == apiID {
			return s
		}
	}
	return nil
}

// ServeHTTP hands r to the workspace it belongs to.
func (m *Workspaces) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.owner(r).ServeHTTP(w, r)
}

func (m *Workspaces) owner(r *http.Request) *Server {
	path := r.URL.EscapedPath()
	if rest, ok := strings.CutPrefix(path, "/blob/"); ok {
		seg, _, _ := strings.Cut(rest, "/")
		if id, err := url.PathUnescape(seg); err == nil {
			for _, s := range m.servers {
				if s.holdsMedia(id) {
					return s
				}
			}
		}
		return m.servers[0]
	}
	sum := sha256.Sum256([]byte(r.Header.Get("X-API-ID")))
	for _, s := range m.servers {
		if subtle.ConstantTimeCompare(sum[:], s.idSum[:]) == 1 {
			return s
		}
	}
	return m.servers[0]
}

// holdsMedia reports whether the media id is this workspace's.
func (s *Server) holdsMedia(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.media[id]
	return ok
}

package sandbox

import (
	"fmt"
	"net/http"

	"github.com/mediaflow/mediaflow/swonkie"
)

// listEnvelope wraps list answers: {"data": [...]}.
type listEnvelope[T any] struct {
	Data []T `json:"data"`
}

func (s *Server) listProfiles(x *exchange) reply {
	s.lock()
	defer s.mu.Unlock()
	return jsonReply(http.StatusOK, listEnvelope[swonkie.Profile]{Data: s.profilesLocked()})
}

func (s *Server) profilesLocked() []swonkie.Profile {
	out := make([]swonkie.Profile, len(s.profiles))
	for i, p := range s.profiles {
		out[i] = *p
	}
	return out
}

// Profiles returns the workspace's profiles, ids included.
func (s *Server) Profiles() []swonkie.Profile {
	s.lock()
	defer s.mu.Unlock()
	return s.profilesLocked()
}

// SetProfileStatus changes a profile's statusLevel, as when its connection
// expires or is renewed in the Swonkie web app. Publications due before
// now still see the old value.
func (s *Server) SetProfileStatus(id, statusLevel string) error {
	s.lock()
	defer s.mu.Unlock()
	p := s.profileByID[id]
	if p == nil {
		return fmt.Errorf("sandbox: set profile status: no profile %q", id)
	}
	p.StatusLevel = statusLevel
	return nil
}

// SetPostStage puts a post in any stage, as a person can in the Swonkie
// web app (archiving, client review); a queued publication is cancelled.
// The API itself moves posts only through stage actions.
func (s *Server) SetPostStage(id string, stage swonkie.Stage) error {
	now := s.lock()
	defer s.mu.Unlock()
	p := s.livePost(id)
	switch {
	case p == nil:
		return fmt.Errorf("sandbox: set post stage: no post %q", id)
	case !contains(swonkie.AllStages, stage):
		return fmt.Errorf("sandbox: set post stage: unknown stage %q", stage)
	}
	s.dequeue(p)
	p.stage, p.updatedAt = stage, now
	if stage == swonkie.StagePublished && p.publishedAt.IsZero() {
		p.publishedAt = now
	}
	return nil
}

package sandbox

import (
	"net/http"
	"time"
)

// The /_sandbox endpoints give the standalone binary's users what tests
// get from Go methods. They take the workspace credentials like the API.

func (s *Server) statsEndpoint(x *exchange) reply {
	return jsonReply(http.StatusOK, s.StatsWithMarker(x.r.URL.Query().Get("markerPrefix")))
}

type advanced struct {
	Now    time.Time `json:"now"`
	Offset string    `json:"offset,omitempty"`
}

// advanceEndpoint moves the clock: POST /_sandbox/clock/advance?by=16m.
func (s *Server) advanceEndpoint(x *exchange) reply {
	by, err := time.ParseDuration(x.r.URL.Query().Get("by"))
	if err != nil || by <= 0 {
		return errorReply(http.StatusBadRequest, "by must be a positive Go duration such as 16m")
	}
	if err := s.Advance(by); err != nil {
		return errorReply(http.StatusConflict, err.Error())
	}
	out := advanced{Now: s.Now()}
	if c, ok := s.opts.Clock.(*OffsetClock); ok {
		out.Offset = c.Offset().String()
	}
	return jsonReply(http.StatusOK, out)
}

type keyChange struct {
	APIKey string `json:"apiKey"`
}

// keyEndpoint rotates the workspace's key, as the web app does: POST
// /_sandbox/key {"apiKey": "…"}, sent with the current credentials. From
// then on the old key is answered 401 (a revoked key); rotating back
// restores it.
func (s *Server) keyEndpoint(x *exchange) reply {
	var in keyChange
	if rep := decodeBody(x.r, &in); rep != nil {
		return *rep
	}
	if in.APIKey == "" {
		return errorReply(http.StatusBadRequest, "apiKey must not be empty")
	}
	s.SetAPIKey(in.APIKey)
	return jsonReply(http.StatusOK, struct {
		Rotated bool `json:"rotated"`
	}{true})
}

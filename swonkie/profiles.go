package swonkie

import (
	"context"
	"encoding/json"
	"net/http"
)

// Network is a social network as the API names it.
type Network struct {
	Name string `json:"name,omitempty"` // e.g. Facebook
	Code string `json:"code,omitempty"` // e.g. facebook
}

// Profile is a connected social profile of the workspace.
type Profile struct {
	ID       string  `json:"id"`
	Name     string  `json:"name,omitempty"`
	Username string  `json:"username,omitempty"`
	Net      Network `json:"net"`
	// StatusLevel is the connection's health; only "OK" is known to
	// publish.
	StatusLevel string `json:"statusLevel,omitempty"`
}

// StatusOK is the StatusLevel of a healthy profile.
const StatusOK = "OK"

// ListProfiles returns the workspace's connected profiles.
func (c *Client) ListProfiles(ctx context.Context) ([]Profile, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, call{method: http.MethodGet, endpoint: "/profiles", path: "/profiles"}, &raw)
	if err != nil {
		return nil, err
	}
	var out []Profile
	if _, err := readList(raw, &out); err != nil {
		return nil, &UnusableAnswerError{Op: "GET /profiles", Status: status, Reason: err.Error()}
	}
	return out, nil
}

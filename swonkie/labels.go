package swonkie

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// Label is a workspace label; posts carry label ids.
type Label struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// ListLabels returns the workspace's labels.
func (c *Client) ListLabels(ctx context.Context) ([]Label, error) {
	var raw json.RawMessage
	status, err := c.do(ctx, call{method: http.MethodGet, endpoint: "/labels", path: "/labels"}, &raw)
	if err != nil {
		return nil, err
	}
	var out []Label
	if _, err := readList(raw, &out); err != nil {
		return nil, &UnusableAnswerError{Op: "GET /labels", Status: status, Reason: err.Error()}
	}
	return out, nil
}

// CreateLabel creates a label; names are 1 to 50 characters and need not be
// unique.
func (c *Client) CreateLabel(ctx context.Context, name string) (*Label, error) {
	if n := utf8.RuneCountInString(name); n < 1 || n > 50 {
		return nil, fmt.Errorf("swonkie POST /labels: name must be 1 to 50 characters, got %d: %w", n, ErrInvalid)
	}
	var out Label
	status, err := c.do(ctx, call{method: http.MethodPost, endpoint: "/labels", path: "/labels",
		body: map[string]string{"name": name}}, &out)
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, &UnusableAnswerError{Op: "POST /labels", Status: status, Reason: "no label id"}
	}
	return &out, nil
}

package swonkie

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"
)

// Label is a workspace label; posts carry label ids.
type Label struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Color string `json:"color,omitempty"`
}

// maxLabelPages bounds ListLabels: a workspace with more labels than this
// many pages hold is not one a worker should be paging through.
const maxLabelPages = 100

// ListLabels returns the workspace's labels, every page of them. Neither
// the envelope nor paging is documented: the first call sends no query, and
// only when its answer says there is more (hasMore, or a total beyond what
// came) are the next pages asked for with page=2, 3, ….
func (c *Client) ListLabels(ctx context.Context) ([]Label, error) {
	var out []Label
	for page := 1; page <= maxLabelPages; page++ {
		var q url.Values
		if page > 1 {
			q = url.Values{"page": {strconv.Itoa(page)}}
		}
		var raw json.RawMessage
		status, err := c.do(ctx, call{method: http.MethodGet, endpoint: "/labels", path: "/labels", query: q}, &raw)
		if err != nil {
			return nil, err
		}
		var got []Label
		env, err := readList(raw, &got)
		if err != nil {
			return nil, &UnusableAnswerError{Op: "GET /labels", Status: status, Reason: err.Error()}
		}
		out = append(out, got...)
		more := env.More != nil && *env.More || env.More == nil && env.Total > len(out)
		if !more || len(got) == 0 {
			return out, nil
		}
	}
	return nil, &UnusableAnswerError{Op: "GET /labels", Status: http.StatusOK,
		Reason: fmt.Sprintf("still more labels after %d pages", maxLabelPages)}
}

// MaxLabelName is the longest label name, in characters (§7).
const MaxLabelName = 50

// CreateLabel creates a label; names are 1 to MaxLabelName characters and
// need not be unique, so a caller that wants one label per name must look
// before it creates (and remember what it made: a lost answer leaves a
// label it cannot tell from one someone else named alike).
func (c *Client) CreateLabel(ctx context.Context, name string) (*Label, error) {
	if n := utf8.RuneCountInString(name); n < 1 || n > MaxLabelName {
		return nil, fmt.Errorf("swonkie POST /labels: name must be 1 to %d characters, got %d: %w", MaxLabelName, n, ErrInvalid)
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

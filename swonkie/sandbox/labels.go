package sandbox

import (
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/mediaflow/mediaflow/swonkie"
)

// labelColors is what a new label's colour is drawn from; Swonkie picks
// one at random and only the web app can change it.
var labelColors = []string{"#E53935", "#8E24AA", "#3949AB", "#039BE5", "#00897B", "#7CB342", "#FDD835", "#FB8C00"}

const maxLabelName = 50

type createLabelBody struct {
	Name *string `json:"name"`
}

// labelParams are the query parameters a paged GET /labels understands.
var labelParams = []string{"page", "limit"}

// listLabels answers the labels in creation order, paged or whole (see
// LabelListShape); unknown query parameters are refused, as a
// whitelisting query DTO would.
func (s *Server) listLabels(x *exchange) reply {
	q := x.r.URL.Query()
	var problems []swonkie.Problem
	for k := range q {
		if s.sh.labelList == LabelListWhole || !contains(labelParams, k) {
			problems = append(problems, swonkie.Problem{Field: k, Message: "property " + k + " should not exist"})
		}
	}
	pg, pageProblems := readPaging(q)
	if problems = append(problems, pageProblems...); len(problems) > 0 {
		sortProblems(problems)
		return errorReply(http.StatusBadRequest, "query is not valid", problems...)
	}
	s.lock()
	defer s.mu.Unlock()
	out := make([]swonkie.Label, len(s.labels))
	for i, l := range s.labels {
		out[i] = s.sh.label(l)
	}
	if s.sh.labelList == LabelListWhole {
		return jsonReply(http.StatusOK, listEnvelope[swonkie.Label]{Data: out})
	}
	start, end, meta := pg.window(len(out))
	return jsonReply(http.StatusOK, pagedList[swonkie.Label]{Data: out[start:end], Meta: meta})
}

// createLabel makes a label; names need not be unique.
func (s *Server) createLabel(x *exchange) reply {
	var b createLabelBody
	if rep := decodeBody(x.r, &b); rep != nil {
		return *rep
	}
	switch {
	case b.Name == nil:
		return errorReply(http.StatusBadRequest, "label is not valid", swonkie.Problem{Field: "name", Message: "name is required"})
	case strings.TrimSpace(*b.Name) == "" || utf8.RuneCountInString(*b.Name) > maxLabelName:
		return errorReply(http.StatusBadRequest, "label is not valid", swonkie.Problem{Field: "name", Message: "name must be 1 to 50 characters"})
	}
	s.lock()
	defer s.mu.Unlock()
	l := swonkie.Label{ID: s.newID("label"), Name: *b.Name}
	l.Color = labelColors[draw(s.opts.Seed, "label colour", uint64(len(s.labels)), 0)%uint64(len(labelColors))]
	s.labels = append(s.labels, l)
	s.labelByID[l.ID] = true
	return jsonReply(http.StatusCreated, s.sh.label(l))
}

// Labels returns the workspace's labels.
func (s *Server) Labels() []swonkie.Label {
	s.lock()
	defer s.mu.Unlock()
	return append([]swonkie.Label{}, s.labels...)
}

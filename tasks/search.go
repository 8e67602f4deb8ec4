package tasks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// SearchOptions select pipelines for the page: what the indexes answer
// (states, a creation range) and what only a record can (a profile, a
// label, a text), which Search checks on each record it reads, reading at
// most SearchScanLimit records per call.
type SearchOptions struct {
	States []State // any of them; none for every state
	// Since and Until bound the creation time, [Since, Until); zero is open.
	Since, Until time.Time
	// Profile is a profile id the post targets.
	Profile string
	// Label is a label name (any case) or id the post carries.
	Label string
	// Text is looked for, in any case, in the id, the idempotency key, the
	// captions and first comments, and the last error.
	Text string
	// Workspaces, when not empty, keeps the pipelines of these
	// workspaces only (a filter, or a scoped session's).
	Workspaces []string
	// Cursor is a place from a previous page (Next or Prev); Back reads
	// the pipelines newer than it instead of older.
	Cursor string
	Back   bool
	Limit  int // default 20, at most MaxListLimit

	// scanLimit replaces SearchScanLimit in tests.
	scanLimit int
}

// SearchScanLimit bounds the records one Search reads when it filters by
// profile, label or text: a page that is not full by then says so
// (SearchPage.Partial) and its Next goes on from where it stopped.
const SearchScanLimit = 2000

// SearchPage is one page of a search, newest first.
type SearchPage struct {
	Records []*Record
	// Next continues with older pipelines; Prev with newer ones (Back).
	// Each is "" when the span holds nothing further that way.
	Next, Prev string
	// Total is how many pipelines the states and creation range hold;
	// Before how many of those are newer than the first record shown.
	// Profile, label and text are not counted (that would read every
	// record): with them, Total is an upper bound.
	Total, Before int64
	// Scanned is how many records were read; Partial that the page
	// stopped at SearchScanLimit before it was full.
	Scanned int
	Partial bool
}

// Filtered says whether the options name anything only a record shows.
func (o SearchOptions) Filtered() bool {
	return o.Profile != "" || o.Label != "" || o.Text != "" || len(o.Workspaces) > 0
}

// Match is the record-side filter: profile, label and text.
func (o SearchOptions) Match(r *Record) bool {
	if len(o.Workspaces) > 0 && !slices.Contains(o.Workspaces, workspaceOf(r)) {
		return false
	}
	sp := r.Request.Post
	if o.Profile != "" && (sp == nil || !slices.Contains(sp.ProfileIDs, o.Profile)) {
		return false
	}
	if o.Label != "" && !hasLabel(r, o.Label) {
		return false
	}
	if o.Text == "" {
		return true
	}
	text := strings.ToLower(o.Text)
	in := func(s string) bool { return s != "" && strings.Contains(strings.ToLower(s), text) }
	if in(r.ID) || in(r.Key) {
		return true
	}
	if e := r.LastError(); e != nil && in(e.Message) {
		return true
	}
	if sp != nil {
		if in(sp.Caption) || in(sp.FirstComment) {
			return true
		}
		for _, c := range sp.Captions {
			if in(c.Text) || in(c.FirstComment) {
				return true
			}
		}
	}
	return false
}

func hasLabel(r *Record, label string) bool {
	sp := r.Request.Post
	if slices.Contains(r.LabelIDs, label) {
		return true
	}
	if sp == nil {
		return false
	}
	if slices.Contains(sp.LabelIDs, label) {
		return true
	}
	return slices.ContainsFunc(sp.Labels, func(n string) bool { return strings.EqualFold(n, label) })
}

// Search returns a page of the pipelines the options select, newest
// first. Without profile, label or text it reads one page of the indexes
// and its records; with them it reads the span in batches and keeps what
// matches, until the page is full, the span ends, or SearchScanLimit
// records were read.
func (c *Client) Search(ctx context.Context, o SearchOptions) (*SearchPage, error) {
	span := rdb.Span{Since: o.Since, Until: o.Until}
	for _, s := range o.States {
		if !validState(s) {
			return nil, &ValidationError{Problems: []Problem{{Field: "state", Message: fmt.Sprintf("unknown state %q", s)}}}
		}
		span.States = append(span.States, string(s))
	}
	switch {
	case o.Limit <= 0:
		o.Limit = 20
	case o.Limit > MaxListLimit:
		o.Limit = MaxListLimit
	}
	batch := o.Limit
	if o.Filtered() {
		batch = 200
	}
	scanLimit := SearchScanLimit
	if o.scanLimit > 0 {
		scanLimit = o.scanLimit
	}
	page := &SearchPage{}
	var kept []rdb.Listed
	cursor, more := o.Cursor, true
	for more && len(kept) < o.Limit && page.Scanned < scanLimit {
		ls, m, err := c.store.rdb.Scan(ctx, span, cursor, o.Back, min(batch, scanLimit-page.Scanned))
		if errors.Is(err, rdb.ErrBadCursor) {
			return nil, ErrBadCursor
		}
		if err != nil {
			return nil, err
		}
		more = m
		if len(ls) == 0 {
			break
		}
		// Back reads newest first too: walk it from the cursor's side.
		if o.Back {
			slices.Reverse(ls)
		}
		recs, err := c.records(ctx, ls, o)
		if err != nil {
			return nil, err
		}
		for i, l := range ls {
			page.Scanned++
			cursor = l.Cursor
			if r := recs[l.ID]; r != nil && (!o.Filtered() || o.Match(r)) {
				kept = append(kept, l)
				page.Records = append(page.Records, r.public())
				if len(kept) == o.Limit {
					// Past the page, what this batch read says whether a
					// match follows: a Next then leads to it, not to an
					// empty page (only a batch's very last record leaves
					// that to the index's word).
					for _, rest := range ls[i+1:] {
						if r := recs[rest.ID]; r != nil && (!o.Filtered() || o.Match(r)) {
							more = true
							break
						}
					}
					break
				}
			}
		}
	}
	page.Partial = more && len(kept) < o.Limit
	if o.Back {
		slices.Reverse(kept)
		slices.Reverse(page.Records)
	}
	// Next and Prev: from the edge of what was read that way, else from
	// the first (last) record shown.
	switch {
	case o.Back:
		if more {
			page.Prev = cursor
		}
		if len(kept) > 0 {
			page.Next = kept[len(kept)-1].Cursor
		} else if o.Cursor != "" {
			page.Next = o.Cursor
		}
	default:
		if more {
			page.Next = cursor
		}
		if o.Cursor != "" {
			page.Prev = o.Cursor
			if len(kept) > 0 {
				page.Prev = kept[0].Cursor
			}
		}
	}
	var err error
	if page.Total, err = c.store.rdb.CountSpan(ctx, span, ""); err != nil {
		return nil, err
	}
	if len(kept) > 0 {
		if page.Before, err = c.store.rdb.CountSpan(ctx, span, kept[0].Cursor); err != nil {
			return nil, err
		}
	}
	return page, nil
}

// records reads the listed records without their history, by id; one
// that is gone (deleted after its retention meanwhile) is missing, and so
// is one whose stored bytes show it cannot match o (decoding is most of a
// search's cost).
func (c *Client) records(ctx context.Context, ls []rdb.Listed, o SearchOptions) (map[string]*Record, error) {
	ids := make([]string, len(ls))
	for i, l := range ls {
		ids[i] = l.ID
	}
	entries, err := c.store.rdb.GetMany(ctx, ids, false)
	if err != nil {
		return nil, err
	}
	var needles [][]byte
	for _, n := range []string{o.Profile, o.Label, o.Text} {
		if n != "" && verbatimInJSON(n) {
			needles = append(needles, bytes.ToLower([]byte(n)))
		}
	}
	out := make(map[string]*Record, len(entries))
	for _, e := range entries {
		r, kept, err := decodeIf(e, func(parts *rdb.Entry) bool { return mayHold(parts, needles) })
		if err != nil {
			return nil, err
		}
		if kept {
			out[r.ID] = r
		}
	}
	return out, nil
}

// verbatimInJSON says whether s is stored as it is inside a JSON string
// (encoding/json escapes quotes, backslashes, control characters and
// <, >, &): then a record whose stored bytes lack s cannot show it.
func verbatimInJSON(s string) bool {
	return !strings.ContainsFunc(s, func(r rune) bool {
		return r < 0x20 || r == '"' || r == '\\' || r == '<' || r == '>' || r == '&' || r == 0x2028 || r == 0x2029
	})
}

// mayHold says whether every needle (lower case) is somewhere in the
// record's stored request or document (e in parts), in any case: every
// field Match reads is in one of them.
func mayHold(e *rdb.Entry, needles [][]byte) bool {
	if len(needles) == 0 {
		return true
	}
	req, doc := bytes.ToLower(e.Req), bytes.ToLower(e.Doc)
	for _, n := range needles {
		if !bytes.Contains(req, n) && !bytes.Contains(doc, n) && !bytes.Contains([]byte(strings.ToLower(e.ID)), n) {
			return false
		}
	}
	return true
}

// CountStates is how many pipelines each state holds now (one round trip
// per Redis node), for the page's counts.
func (c *Client) CountStates(ctx context.Context) (map[State]int64, error) {
	counts, err := c.store.rdb.Count(ctx, c.store.now())
	if err != nil {
		return nil, err
	}
	out := make(map[State]int64, len(States))
	for _, s := range States {
		out[s] = counts.ByState[string(s)]
	}
	return out, nil
}

package tasks

import (
	"time"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/publishrules"
)

// Finding is one way a request breaks what it needs to publish: a rule
// of a network (publishrules), a profile unknown or not connected, a
// source that can never be read. Item, Network, Rule, Value and Limit say
// which; Source cites the documentation a network rule comes from.
type Finding = publishrules.Finding

// Rules of the findings pre-flight adds to the network rules'.
const (
	RuleProfileKnown     = "profile.known"
	RuleProfileConnected = "profile.connected"
	RuleSourceReadable   = "source.readable"
)

// Preflight is what the pre-flight step found, written once, before any
// Swonkie object exists. A record with problems failed there.
type Preflight struct {
	At    time.Time    `json:"at"`
	Media []ProbedItem `json:"media"`
	// Problems keep the post from publishing; Warnings say what a
	// network will change (crop, scale) or may refuse.
	Problems []Finding `json:"problems,omitempty"`
	Warnings []Finding `json:"warnings,omitempty"`
}

// ProbedItem is what a media item turned out to be, from its headers.
type ProbedItem struct {
	Name        string          `json:"name,omitempty"`
	ContentType string          `json:"contentType,omitempty"`
	Size        int64           `json:"size,omitempty"`
	Info        *mediainfo.Info `json:"info,omitempty"`
	// Error is why the item could not be probed.
	Error string `json:"error,omitempty"`
}

// preflightOwed: the pipeline's first step is still to run.
func (r *Record) preflightOwed() bool { return r.in.PreflightOwed && r.Preflight == nil }

// probed is item i's probe when pre-flight saw a file of size bytes.
func (r *Record) probed(i int, size int64) (mediainfo.Info, bool) {
	if r.Preflight == nil || i >= len(r.Preflight.Media) {
		return mediainfo.Info{}, false
	}
	m := r.Preflight.Media[i]
	if m.Info == nil || m.Size != size {
		return mediainfo.Info{}, false
	}
	return *m.Info, true
}

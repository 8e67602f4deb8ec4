package sandbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// FaultKind names one kind of injected failure.
type FaultKind string

// Fault kinds, in the order they take effect: a reset happens before the
// request is read, added latency before it is handled, a 5xx, a 429 or a
// redirect instead of handling it, a lost reply or an unusable body after
// it was handled and committed. A partial publication is decided by the
// stage action that queues the publication and happens when it goes out.
const (
	FaultReset     FaultKind = "reset"
	FaultLatency   FaultKind = "latency"
	FaultError5xx  FaultKind = "error5xx"
	FaultRateLimit FaultKind = "rateLimit"
	// FaultRedirect answers 301 or 307 (or RedirectStatus) with a Location
	// on another URL instead of handling the call: a client must not
	// follow it, least of all with its credentials.
	FaultRedirect  FaultKind = "redirect"
	FaultLostReply FaultKind = "lostReply"
	// FaultBadBody handles the call, commits its effect, and answers its
	// 2xx status with a body the client cannot use: HTML, nothing, {} or
	// the JSON cut in half. It strikes only answers that were 2xx.
	FaultBadBody FaultKind = "badBody"
	// FaultPartialPublish makes the publication a schedule or publishNow
	// queues fail on the post's first profile and succeed on the others
	// (that are fit to publish). Only PATCH /posts/{id}/stage/{stage}
	// queues publications.
	FaultPartialPublish FaultKind = "partialPublish"
)

// badBodies are the unusable answers FaultBadBody picks from, in turn by
// the seed: not JSON, empty, JSON without an id, JSON cut short.
var badBodies = []string{"html", "empty", "emptyObject", "truncated"}

// redirectStatuses are what a redirect fault answers with when the plan
// names none: a permanent one a client may cache and a temporary one that
// keeps the method.
var redirectStatuses = []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect}

// AnyEndpoint is the fault-plan key whose faults apply to every endpoint.
const AnyEndpoint = "*"

// Fault defaults when the plan leaves them zero.
const (
	DefaultRetryAfter = time.Second
	DefaultLatencyBy  = time.Second
)

// Fault gives the probability of each kind of failure for one endpoint.
// Kinds are drawn independently; when several fire on one request the
// earliest in the order of FaultKind wins (a reset leaves nothing to
// answer), except latency, which adds to whatever follows.
//
// In JSON the probabilities are numbers, retryAfter is whole seconds and
// latencyBy a Go duration string ("250ms").
type Fault struct {
	Error5xx  float64
	RateLimit float64
	// RetryAfter is what a 429 asks the client to wait; it is sent in whole
	// seconds, rounded up. Default DefaultRetryAfter.
	RetryAfter time.Duration
	Latency    float64
	// LatencyBy is the delay a latency fault adds. Default DefaultLatencyBy.
	LatencyBy time.Duration
	Reset     float64
	LostReply float64
	// BadBody is the probability of FaultBadBody.
	BadBody float64
	// Redirect is the probability of FaultRedirect. RedirectTo is the base
	// URL the Location points into (the request's path and query are
	// appended); by default the sandbox's own /_sandbox/redirected, which
	// records as a Violation every request that arrives with credentials.
	// RedirectStatus is one of 301, 302, 303, 307, 308; by default 301 and
	// 307 alternate by the seed.
	Redirect       float64
	RedirectTo     string
	RedirectStatus int
	// PartialPublish is the probability of FaultPartialPublish.
	PartialPublish float64
}

type faultJSON struct {
	Error5xx   float64 `json:"error5xx,omitempty"`
	RateLimit  float64 `json:"rateLimit,omitempty"`
	RetryAfter int64   `json:"retryAfter,omitempty"`
	Latency    float64 `json:"latency,omitempty"`
	LatencyBy  string  `json:"latencyBy,omitempty"`
	Reset      float64 `json:"reset,omitempty"`
	LostReply  float64 `json:"lostReply,omitempty"`
	BadBody    float64 `json:"badBody,omitempty"`
	Redirect   float64 `json:"redirect,omitempty"`
	RedirectTo string  `json:"redirectTo,omitempty"`
	// RedirectStatus is an HTTP status such as 307.
	RedirectStatus int     `json:"redirectStatus,omitempty"`
	PartialPublish float64 `json:"partialPublish,omitempty"`
}

// MarshalJSON writes f in the fault-plan file format.
func (f Fault) MarshalJSON() ([]byte, error) {
	j := faultJSON{Error5xx: f.Error5xx, RateLimit: f.RateLimit, Latency: f.Latency, Reset: f.Reset, LostReply: f.LostReply,
		RetryAfter: retryAfterSeconds(f.RetryAfter), BadBody: f.BadBody, Redirect: f.Redirect, RedirectTo: f.RedirectTo,
		RedirectStatus: f.RedirectStatus, PartialPublish: f.PartialPublish}
	if f.LatencyBy != 0 {
		j.LatencyBy = f.LatencyBy.String()
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads the fault-plan file format and rejects unknown
// fields, so a typo in a plan fails loudly instead of injecting nothing.
func (f *Fault) UnmarshalJSON(b []byte) error {
	var j faultJSON
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return err
	}
	*f = Fault{Error5xx: j.Error5xx, RateLimit: j.RateLimit, Latency: j.Latency, Reset: j.Reset, LostReply: j.LostReply,
		RetryAfter: time.Duration(j.RetryAfter) * time.Second, BadBody: j.BadBody, Redirect: j.Redirect,
		RedirectTo: j.RedirectTo, RedirectStatus: j.RedirectStatus, PartialPublish: j.PartialPublish}
	if j.RetryAfter < 0 {
		return fmt.Errorf("retryAfter %d is negative", j.RetryAfter)
	}
	if j.LatencyBy != "" {
		d, err := time.ParseDuration(j.LatencyBy)
		if err != nil {
			return fmt.Errorf("latencyBy: %w", err)
		}
		f.LatencyBy = d
	}
	return nil
}

// FaultPlan maps endpoint keys ("POST /media", "PUT {uploadUrl}",
// "PATCH /posts/{id}/stage/{stage}", …, see Endpoints) and AnyEndpoint to
// faults. An endpoint's own entry overrides the "*" entry field by field:
// a field it leaves zero falls back to "*".
type FaultPlan map[string]Fault

// ParseFaultPlan reads a plan given inline as JSON or, as "@path", from a
// file, e.g. {"*":{"error5xx":0.05},"POST /posts":{"lostReply":0.1}}.
// The empty string is the empty plan.
func ParseFaultPlan(s string) (FaultPlan, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	src := "inline fault plan"
	data := []byte(s)
	if name, ok := strings.CutPrefix(s, "@"); ok {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read fault plan: %w", err)
		}
		src, data = "fault plan "+name, b
	}
	var p FaultPlan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("parse %s: %w", src, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("parse %s: data after the JSON object", src)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return p, nil
}

// Validate checks that every key names an endpoint and every probability
// is within [0, 1].
func (p FaultPlan) Validate() error {
	var errs []error
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		f := p[k]
		if k != AnyEndpoint && !slices.Contains(faultEndpoints, k) {
			errs = append(errs, fmt.Errorf("fault plan: unknown endpoint %q (known: %s and %q)", k, strings.Join(faultEndpoints, ", "), AnyEndpoint))
			continue
		}
		for kind, v := range map[FaultKind]float64{FaultError5xx: f.Error5xx, FaultRateLimit: f.RateLimit,
			FaultLatency: f.Latency, FaultReset: f.Reset, FaultLostReply: f.LostReply, FaultBadBody: f.BadBody,
			FaultRedirect: f.Redirect, FaultPartialPublish: f.PartialPublish} {
			if math.IsNaN(v) || v < 0 || v > 1 {
				errs = append(errs, fmt.Errorf("fault plan %q: %s probability %v is not within [0, 1]", k, kind, v))
			}
		}
		if f.RetryAfter < 0 || f.LatencyBy < 0 {
			errs = append(errs, fmt.Errorf("fault plan %q: negative duration", k))
		}
		if f.RedirectStatus != 0 && !slices.Contains([]int{301, 302, 303, 307, 308}, f.RedirectStatus) {
			errs = append(errs, fmt.Errorf("fault plan %q: redirectStatus %d is not one of 301, 302, 303, 307, 308", k, f.RedirectStatus))
		}
		if f.RedirectTo != "" {
			if u, err := url.Parse(f.RedirectTo); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("fault plan %q: redirectTo %q is not an absolute http(s) URL", k, f.RedirectTo))
			}
		}
	}
	return errors.Join(errs...)
}

// forEndpoint merges the "*" entry with the endpoint's own.
func (p FaultPlan) forEndpoint(key string) Fault {
	f, own := p[AnyEndpoint], p[key]
	pick := func(a, b float64) float64 {
		if b != 0 {
			return b
		}
		return a
	}
	f.Error5xx = pick(f.Error5xx, own.Error5xx)
	f.RateLimit = pick(f.RateLimit, own.RateLimit)
	f.Latency = pick(f.Latency, own.Latency)
	f.Reset = pick(f.Reset, own.Reset)
	f.LostReply = pick(f.LostReply, own.LostReply)
	f.BadBody = pick(f.BadBody, own.BadBody)
	f.Redirect = pick(f.Redirect, own.Redirect)
	f.PartialPublish = pick(f.PartialPublish, own.PartialPublish)
	if own.RedirectTo != "" {
		f.RedirectTo = own.RedirectTo
	}
	if own.RedirectStatus != 0 {
		f.RedirectStatus = own.RedirectStatus
	}
	if own.RetryAfter != 0 {
		f.RetryAfter = own.RetryAfter
	}
	if own.LatencyBy != 0 {
		f.LatencyBy = own.LatencyBy
	}
	if f.RetryAfter == 0 {
		f.RetryAfter = DefaultRetryAfter
	}
	if f.LatencyBy == 0 {
		f.LatencyBy = DefaultLatencyBy
	}
	return f
}

// faultDecision is what the plan does to one request.
type faultDecision struct {
	reset, error5xx, rateLimit, lostReply bool
	latency                               time.Duration
	status                                int // of an injected 5xx or redirect
	retryAfter                            time.Duration
	redirect                              bool
	redirectTo                            string
	badBody                               string // one of badBodies
	partialPublish                        bool
}

// fault5xx are the statuses an injected 5xx picks from, so clients meet
// every common one.
var fault5xx = []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout}

// decideFaults is a pure function of (seed, endpoint, n, kind): the n-th
// request to an endpoint meets the same faults whatever happens elsewhere.
func decideFaults(seed int64, f Fault, endpoint string, n uint64) faultDecision {
	hit := func(kind FaultKind, p float64) bool {
		return chance(p, draw(seed, "fault "+string(kind)+" "+endpoint, n, 0))
	}
	var d faultDecision
	if hit(FaultReset, f.Reset) {
		d.reset = true
		return d
	}
	if hit(FaultLatency, f.Latency) {
		d.latency = f.LatencyBy
	}
	switch {
	case hit(FaultError5xx, f.Error5xx):
		d.error5xx = true
		d.status = fault5xx[draw(seed, "fault status "+endpoint, n, 0)%uint64(len(fault5xx))]
	case hit(FaultRateLimit, f.RateLimit):
		d.rateLimit = true
		d.retryAfter = f.RetryAfter
	case hit(FaultRedirect, f.Redirect):
		d.redirect, d.redirectTo, d.status = true, f.RedirectTo, f.RedirectStatus
		if d.status == 0 {
			d.status = redirectStatuses[draw(seed, "fault redirect status "+endpoint, n, 0)%uint64(len(redirectStatuses))]
		}
	case hit(FaultLostReply, f.LostReply):
		d.lostReply = true
	case hit(FaultBadBody, f.BadBody):
		d.badBody = badBodies[draw(seed, "fault bad body "+endpoint, n, 0)%uint64(len(badBodies))]
	}
	d.partialPublish = hit(FaultPartialPublish, f.PartialPublish)
	return d
}

// retryAfterSeconds rounds d up to the whole seconds Retry-After carries.
func retryAfterSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

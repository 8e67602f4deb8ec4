package sandbox

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Server is a strict, stateful, fault-injecting stand-in for the Swonkie
// public API v2 and its upload storage. It is an http.Handler: mount it on
// httptest (see Start) or on a real listener (cmd/swonkie-sandbox).
//
// The API lives under /v2, uploads under /blob/{mediaId}, introspection
// under /_sandbox. All state is in memory and guarded by one mutex;
// uploads are streamed and hashed outside it.
type Server struct {
	opts    Options
	sh      shapes
	signKey []byte
	// instance is the random part of the ids this server makes (ids.go).
	instance []byte
	idSum    [32]byte
	keySum   [32]byte
	faults   map[string]Fault // effective fault per endpoint key

	mu          sync.Mutex
	ids         map[string]bool
	idSeq       map[string]uint64
	media       map[string]*media
	mediaOrder  []*media
	posts       map[string]*post
	postOrder   []*post
	profiles    []*swonkie.Profile
	profileByID map[string]*swonkie.Profile
	labels      []swonkie.Label
	labelByID   map[string]bool
	// unconfirmed and queued hold what time alone can change; nextEvent is
	// the earliest such change, so most requests skip settling entirely.
	unconfirmed map[*media]struct{}
	queued      map[*post]struct{}
	nextEvent   time.Time
	counts      counters
	requestSeq  map[string]uint64
	// callTimes are the arrival times (sandbox clock, Unix ns) of every
	// /v2 call, for the busiest-window statistic.
	callTimes   []int64
	requests    map[string]map[int]int
	faultCounts map[string]map[FaultKind]int
	violations  []Violation
}

// New checks opts and returns an empty workspace holding only its
// profiles.
func New(opts Options) (*Server, error) {
	opts, err := opts.normalized()
	if err != nil {
		return nil, err
	}
	sh, _ := opts.shapes() // checked by normalized
	s := &Server{
		opts:        opts,
		sh:          sh,
		signKey:     make([]byte, 32),
		instance:    make([]byte, instanceBytes),
		idSum:       sha256.Sum256([]byte(opts.APIID)),
		keySum:      sha256.Sum256([]byte(opts.APIKey)),
		faults:      map[string]Fault{},
		ids:         map[string]bool{},
		idSeq:       map[string]uint64{},
		media:       map[string]*media{},
		posts:       map[string]*post{},
		profileByID: map[string]*swonkie.Profile{},
		labelByID:   map[string]bool{},
		unconfirmed: map[*media]struct{}{},
		queued:      map[*post]struct{}{},
		requestSeq:  map[string]uint64{},
		requests:    map[string]map[int]int{},
		faultCounts: map[string]map[FaultKind]int{},
	}
	// The signing key and the ids' instance part are what the seed does
	// not decide: upload URLs must not be forgeable by someone who knows
	// the seed, and a second server must not hand out the first one's ids.
	if _, err := rand.Read(s.signKey); err != nil {
		return nil, fmt.Errorf("sandbox: make the upload signing key: %w", err)
	}
	if _, err := rand.Read(s.instance); err != nil {
		return nil, fmt.Errorf("sandbox: make the id instance part: %w", err)
	}
	for _, k := range faultEndpoints {
		s.faults[k] = opts.Faults.forEndpoint(k)
	}
	for _, p := range opts.Profiles {
		if p.ID != "" {
			s.ids[p.ID] = true
		}
	}
	for _, p := range opts.Profiles {
		if p.ID == "" {
			p.ID = s.newID("profile")
		}
		s.profiles = append(s.profiles, &p)
		s.profileByID[p.ID] = &p
	}
	return s, nil
}

// exchange is one request on its way through a handler.
type exchange struct {
	r      *http.Request
	params []string
	// origin is scheme://host as the client reached us, for the URLs we
	// hand out.
	origin string
	// createdMedia and createdPost name what the handler made, so a lost
	// reply can be pinned on it.
	createdMedia, createdPost string
	// partialPublish is the fault plan's verdict for a publication this
	// request queues.
	partialPublish bool
}

// ServeHTTP routes r, applies the fault plan, authenticates, handles and
// records it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rt, params := matchRoute(r)
	key := rt.key()
	n := s.nextRequest(key, rt.api)
	var d faultDecision
	if rt.faultable {
		d = decideFaults(s.opts.Seed, s.faults[key], key, n)
	}
	if d.reset {
		s.finish(r, rt, 0, FaultReset, start)
		dropConnection(w, true)
		return
	}
	if rt.api && r.ContentLength != 0 && r.Body != nil {
		// Reading a JSON body before dawdling lets net/http notice a client
		// that gives up, so the latency below ends with it.
		raw, err := io.ReadAll(io.LimitReader(r.Body, maxJSONBody+1))
		if err != nil {
			s.finish(r, rt, 0, "", start)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(raw))
	}
	delay := d.latency
	if d.latency > 0 {
		s.noteFault(key, FaultLatency)
	}
	if rt.api {
		delay += s.opts.Latency
	}
	if !sleep(r.Context(), delay) {
		// The client gave up while we dawdled; it reads no answer.
		s.finish(r, rt, 0, "", start)
		return
	}

	x := &exchange{r: r, params: params, origin: origin(r), partialPublish: d.partialPublish}
	var rep reply
	var fault FaultKind
	switch {
	case d.error5xx:
		fault = FaultError5xx
		rep = errorReply(d.status, "sandbox: injected server error")
	case d.rateLimit:
		fault = FaultRateLimit
		rep = errorReply(http.StatusTooManyRequests, "Too Many Requests")
		rep.header = http.Header{"Retry-After": {fmt.Sprint(retryAfterSeconds(d.retryAfter))}}
	case d.redirect:
		fault = FaultRedirect
		target := d.redirectTo
		if target == "" {
			target = x.origin + redirectSink
		}
		rep = reply{status: d.status, header: http.Header{"Location": {strings.TrimSuffix(target, "/") + r.URL.RequestURI()}}}
	case rt.auth && !s.authorized(r):
		rep = errorReply(http.StatusUnauthorized, "missing or wrong X-API-ID / X-API-KEY")
	default:
		rep = rt.handle(s, x)
		if d.badBody != "" && rep.status >= 200 && rep.status < 300 {
			fault = FaultBadBody
			rep = unusable(rep, d.badBody)
			s.replyUnusable(x)
		}
	}
	if fault != "" {
		s.noteFault(key, fault)
	}
	if d.lostReply {
		s.replyLost(x)
		s.finish(r, rt, 0, FaultLostReply, start)
		dropConnection(w, false)
		return
	}
	s.finish(r, rt, rep.status, fault, start)
	writeReply(w, rep)
}

// lock takes the state lock and brings time-driven state up to now; the
// caller unlocks.
func (s *Server) lock() time.Time {
	s.mu.Lock()
	now := s.opts.Clock.Now()
	s.settle(now)
	return now
}

// Now returns the sandbox clock's time.
func (s *Server) Now() time.Time { return s.opts.Clock.Now() }

// Advance moves the sandbox clock forward by d. It fails when the clock
// given in Options cannot be moved.
func (s *Server) Advance(d time.Duration) error {
	a, ok := s.opts.Clock.(Advancer)
	if !ok {
		return fmt.Errorf("sandbox: the clock %T cannot be advanced", s.opts.Clock)
	}
	a.Advance(d)
	return nil
}

func (s *Server) nextRequest(key string, api bool) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if api {
		s.callTimes = append(s.callTimes, s.opts.Clock.Now().UnixNano())
	}
	s.requestSeq[key]++
	return s.requestSeq[key]
}

// finish records the request (status 0: the connection was dropped without
// an answer) and logs it.
func (s *Server) finish(r *http.Request, rt route, status int, fault FaultKind, start time.Time) {
	key := rt.key()
	s.mu.Lock()
	byStatus := s.requests[key]
	if byStatus == nil {
		byStatus = map[int]int{}
		s.requests[key] = byStatus
	}
	byStatus[status]++
	if fault == FaultReset || fault == FaultLostReply {
		s.noteFaultLocked(key, fault)
	}
	s.mu.Unlock()
	if s.opts.Logger != nil {
		args := []any{"method", r.Method, "endpoint", rt.template, "status", status,
			"took", time.Since(start).Round(time.Microsecond)}
		if fault != "" {
			args = append(args, "fault", string(fault))
		}
		s.opts.Logger.Info("request", args...)
	}
}

func (s *Server) noteFault(key string, kind FaultKind) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.noteFaultLocked(key, kind)
}

func (s *Server) noteFaultLocked(key string, kind FaultKind) {
	byKind := s.faultCounts[key]
	if byKind == nil {
		byKind = map[FaultKind]int{}
		s.faultCounts[key] = byKind
	}
	byKind[kind]++
}

// replyLost marks what the request created as never announced to the
// client: a media whose id the client never learnt is an orphan only
// Swonkie's expiry can remove.
func (s *Server) replyLost(x *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.media[x.createdMedia]; m != nil {
		m.createReplyLost = true
	}
	if p := s.posts[x.createdPost]; p != nil {
		p.createReplyLost = true
	}
}

// replyUnusable marks what the request created as announced in a body
// the client could not read.
func (s *Server) replyUnusable(x *exchange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m := s.media[x.createdMedia]; m != nil {
		m.createReplyUnusable = true
	}
	if p := s.posts[x.createdPost]; p != nil {
		p.createReplyUnusable = true
	}
}

// dropConnection ends the exchange without an answer: with a TCP reset
// (the request was never handled) or a plain close (it was, and the reply
// is lost).
func dropConnection(w http.ResponseWriter, reset bool) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok && reset {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

// sleep waits d unless ctx ends first, and reports whether it waited.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func origin(r *http.Request) string {
	if r.TLS != nil {
		return "https://" + r.Host
	}
	return "http://" + r.Host
}

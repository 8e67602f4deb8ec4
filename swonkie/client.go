package swonkie

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/time/rate"
)

// DefaultBaseURL is the production API.
const DefaultBaseURL = "https://api.swonkie.dev/v2"

// Defaults for Config fields left zero.
const (
	DefaultTimeout   = 30 * time.Second
	DefaultRateLimit = rate.Limit(10)
	DefaultBurst     = 10
	// maxResponseBytes bounds what we read of any API answer: the largest
	// legitimate body is a page of posts.
	maxResponseBytes = 8 << 20
	// maxMessageRunes shortens server messages kept in errors.
	maxMessageRunes = 300
)

// Config configures a Client. Only APIID and APIKey are required.
type Config struct {
	// BaseURL defaults to DefaultBaseURL. A sandbox's URL goes here.
	BaseURL string
	APIID   string
	APIKey  string
	// HTTPClient carries every request, uploads included; wrap its
	// Transport to instrument. Its Timeout should stay zero: uploads of
	// large files are bounded by their context, API calls by Timeout below.
	// Leave it nil in production: only the transport New makes checks an
	// upload host's addresses as it connects (see checkUploadURL).
	HTTPClient *http.Client
	// MaxConns sizes the connection pool of the client New makes when
	// HTTPClient is nil: net/http keeps only two idle connections per host
	// by default, which would make every busy worker reconnect. Give it the
	// number of calls that may be in flight at once (a worker's
	// concurrency); default 16.
	MaxConns int
	// Instrument, when set, wraps the transport of the client New makes
	// (metrics.Metrics.InstrumentTransport is one): it is given the
	// endpoint template of a request and the Retry-After reader, so it
	// can label by route without an id.
	Instrument func(next http.RoundTripper, endpoint func(*http.Request) string, retryAfter func(http.Header) (time.Duration, bool)) http.RoundTripper
	// UserAgent defaults to "mediaflow".
	UserAgent string
	// Timeout bounds each API call (not uploads). Default DefaultTimeout.
	Timeout time.Duration
	// Limiter paces API calls (not uploads, which go to storage). Pass one
	// limiter to every client of a process so they share the budget; when
	// nil one is made from RateLimit and Burst.
	Limiter *rate.Limiter
	// RateLimit is requests per second; default DefaultRateLimit, and
	// rate.Inf turns pacing off.
	RateLimit rate.Limit
	Burst     int
	// MaxRetryAfter caps what a 429 may ask us to wait. Default
	// DefaultMaxRetryAfter.
	MaxRetryAfter time.Duration
	// Now is the clock used to read HTTP-date Retry-After values.
	Now func() time.Time

	// Budget, when set, paces API calls instead of Limiter: it is asked
	// before every API call (never before uploads, which go to storage)
	// and told of every 429 (for DefaultThrottle when it does not say how
	// long to wait). A budget shared through Redis paces a whole fleet of
	// workers as one.
	Budget Budget

	// TracerProvider receives a client span for every API call and upload
	// (see startCall); nil means the global one (otel.GetTracerProvider),
	// a no-op until a program installs an SDK. Waits for the budget and
	// 429s are events on those spans, timed by Now.
	TracerProvider trace.TracerProvider

	// UploadResponseTimeout bounds the wait for storage's answer once an
	// upload's last byte is sent: a storage endpoint that reads the file
	// and never answers must not hold the upload forever. Default
	// DefaultUploadResponseTimeout.
	UploadResponseTimeout time.Duration
	// AllowedUploadHosts are upload URL hosts that may resolve to private,
	// loopback or link-local addresses (a storage emulator on the LAN). The
	// base URL's own host is always allowed.
	AllowedUploadHosts []string
	// LookupHost resolves an upload URL's host for that check; default
	// net.DefaultResolver.LookupNetIP. Tests inject their own.
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error)
}

// DefaultUploadResponseTimeout: Azure answers a Put Blob within seconds of
// its last byte; a minute leaves room for a slow proxy.
const DefaultUploadResponseTimeout = 60 * time.Second

// Client calls the Swonkie API v2. It is safe for concurrent use.
type Client struct {
	base          *url.URL
	id, key       string
	http          *http.Client
	userAgent     string
	timeout       time.Duration
	limiter       *rate.Limiter
	maxRetryAfter time.Duration
	now           func() time.Time
	secrets       *strings.Replacer
	budget        Budget
	tracer        trace.Tracer

	uploadResponseTimeout time.Duration
	allowedUploadHosts    map[string]bool
	lookupHost            func(ctx context.Context, host string) ([]netip.Addr, error)
}

// New checks cfg and returns a client.
func New(cfg Config) (*Client, error) {
	if cfg.APIID == "" || cfg.APIKey == "" {
		return nil, errors.New("swonkie: API id and key are required (SWONKIE_API_ID, SWONKIE_API_KEY)")
	}
	raw := cfg.BaseURL
	if raw == "" {
		raw = DefaultBaseURL
	}
	base, err := url.Parse(strings.TrimRight(raw, "/"))
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("swonkie: base URL %q is not an http(s) URL", raw)
	}
	c := &Client{
		base:          base,
		id:            cfg.APIID,
		key:           cfg.APIKey,
		http:          cfg.HTTPClient,
		userAgent:     cfg.UserAgent,
		timeout:       cfg.Timeout,
		limiter:       cfg.Limiter,
		maxRetryAfter: cfg.MaxRetryAfter,
		now:           cfg.Now,
		secrets:       strings.NewReplacer(cfg.APIID, "[redacted]", cfg.APIKey, "[redacted]"),
		budget:        cfg.Budget,
		tracer:        tracerOf(cfg.TracerProvider),

		uploadResponseTimeout: cfg.UploadResponseTimeout,
		allowedUploadHosts:    map[string]bool{},
		lookupHost:            cfg.LookupHost,
	}
	if c.http == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		conns := cfg.MaxConns
		if conns <= 0 {
			conns = 16
		}
		t.MaxIdleConns = max(100, 2*conns)
		t.MaxIdleConnsPerHost = max(16, 2*conns)
		t.IdleConnTimeout = 90 * time.Second
		t.DialContext = c.guardedDial(t.DialContext)
		var rt http.RoundTripper = t
		if cfg.Instrument != nil {
			rt = cfg.Instrument(t, Endpoint, RetryAfterHeader)
		}
		c.http = &http.Client{Transport: rt}
	}
	// A copy, so the caller's client keeps its own policy: ours never
	// follows a redirect, which would carry X-API-ID and X-API-KEY to
	// whatever host the Location names (and turn a POST into a GET).
	hc := *c.http
	hc.CheckRedirect = refuseRedirect
	c.http = &hc
	for _, h := range cfg.AllowedUploadHosts {
		if h = strings.ToLower(strings.TrimSpace(h)); h != "" {
			c.allowedUploadHosts[h] = true
		}
	}
	if c.uploadResponseTimeout <= 0 {
		c.uploadResponseTimeout = DefaultUploadResponseTimeout
	}
	if c.lookupHost == nil {
		c.lookupHost = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	if c.userAgent == "" {
		c.userAgent = "mediaflow"
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	if c.limiter == nil {
		limit, burst := cfg.RateLimit, cfg.Burst
		if limit == 0 {
			limit = DefaultRateLimit
		}
		if burst <= 0 {
			burst = DefaultBurst
		}
		c.limiter = rate.NewLimiter(limit, burst)
	}
	if c.maxRetryAfter <= 0 {
		c.maxRetryAfter = DefaultMaxRetryAfter
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c, nil
}

// CallTimeout is how long one API call may take at most: after it, the
// client has given up on the answer.
func (c *Client) CallTimeout() time.Duration { return c.timeout }

// BaseURL returns the API root the client calls.
func (c *Client) BaseURL() string { return c.base.String() }

// Workspace names the workspace the client's credentials open, for keys
// that remember things about it (its labels, its posts): a hash of the
// base URL and the API id, stable across processes, never either in clear.
// Two servers given the same id (two sandboxes, a sandbox and the real
// API) are two workspaces.
func (c *Client) Workspace() string {
	sum := sha256.Sum256([]byte("mediaflow swonkie workspace\x00" + strings.TrimRight(c.base.String(), "/") + "\x00" + c.id))
	return hex.EncodeToString(sum[:16])
}

type endpointKey struct{}

// Endpoint returns the endpoint template of a request this package made
// ("/media/{id}", "{uploadUrl}", …), or "other" for any other request. It is
// what an instrumenting RoundTripper should use as a label.
func Endpoint(r *http.Request) string {
	if e, ok := r.Context().Value(endpointKey{}).(string); ok {
		return e
	}
	return "other"
}

// call is one API request: the endpoint template names it in errors and
// metrics, path is the escaped path under the base URL.
type call struct {
	method   string
	endpoint string
	path     string
	query    url.Values
	body     any
	// accept lists extra statuses to decode into out rather than fail on
	// (validate answers 400 with a body worth reading).
	accept []int
}

// do sends c, decodes a 2xx (or accepted) answer into out when out is not
// nil, and returns the status. The call is one client span, the wait for
// the budget included.
func (c *Client) do(ctx context.Context, k call, out any) (status int, err error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ctx = context.WithValue(ctx, endpointKey{}, k.endpoint)

	u := *c.base
	unescaped, err := url.PathUnescape(k.path)
	if err != nil {
		return 0, fmt.Errorf("swonkie %s %s: bad path: %w", k.method, k.endpoint, err)
	}
	u.Path = c.base.Path + unescaped
	u.RawPath = c.base.EscapedPath() + k.path
	if len(k.query) > 0 {
		u.RawQuery = k.query.Encode()
	}
	ctx, span := c.startCall(ctx, k.method, k.endpoint, &u)
	defer func() { endCall(span, status, err) }()

	op := k.method + " " + k.endpoint
	waitStart := c.now()
	if c.budget != nil {
		if err := c.budget.Wait(ctx, op); err != nil {
			return 0, &Error{Method: k.method, Endpoint: k.endpoint, Err: fmt.Errorf("waiting for the Swonkie budget: %w", err)}
		}
		c.waited(span, "budget", waitStart)
	} else {
		if err := c.limiter.Wait(ctx); err != nil {
			return 0, &Error{Method: k.method, Endpoint: k.endpoint, Err: fmt.Errorf("waiting for the client rate limit: %w", err)}
		}
		c.waited(span, "client", waitStart)
	}

	var body io.Reader
	if k.body != nil {
		b, err := json.Marshal(k.body)
		if err != nil {
			return 0, fmt.Errorf("swonkie %s %s: encode request: %w", k.method, k.endpoint, err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, u.String(), body)
	if err != nil {
		return 0, fmt.Errorf("swonkie %s %s: build request: %w", k.method, k.endpoint, err)
	}
	req.Header.Set("X-API-ID", c.id)
	req.Header.Set("X-API-KEY", c.key)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}

	// Whether the request went out whole tells a call that may have taken
	// effect (its answer lost) from one that never reached Swonkie.
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) { sent.Store(i.Err == nil) },
	}))
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, c.unanswered(ctx, c.transportError(k.method, k.endpoint, err), sent.Load())
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return resp.StatusCode, c.unanswered(ctx, c.transportError(k.method, k.endpoint, err), true)
	}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	for _, s := range k.accept {
		ok = ok || resp.StatusCode == s
	}
	if !ok {
		err := c.statusError(k.method, k.endpoint, resp, raw)
		if resp.StatusCode == http.StatusTooManyRequests && c.budget != nil {
			// The API documents no Retry-After (docs/swonkie-api.md): a
			// 429 that says nothing (or 0, or what cannot be read) still
			// holds the endpoint for the fleet, for DefaultThrottle, or
			// every other worker goes on at the rate that drew it until
			// Swonkie locks the key.
			d, _ := RetryAfter(err)
			c.budget.Throttled(op, max(d, DefaultThrottle))
		}
		return resp.StatusCode, err
	}
	if out != nil && len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, &UnusableAnswerError{Op: op, Status: resp.StatusCode,
				Reason: "not the expected JSON: " + c.clean(err.Error())}
		}
	}
	return resp.StatusCode, nil
}

// refuseRedirect hands a 3xx back to do as the answer, without sending
// anything to the Location: statusError turns it into an error.
func refuseRedirect(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// redirectMessage describes a refused redirect by the target's scheme and
// host only: its path and query may carry tokens.
func redirectMessage(resp *http.Response, clean func(string) string) string {
	loc := resp.Header.Get("Location")
	target := "an unreadable Location"
	if loc == "" {
		target = "no Location"
	} else if resp.Request == nil {
		target = "another URL"
	} else if u, err := resp.Request.URL.Parse(loc); err == nil && u.Host != "" {
		target = u.Scheme + "://" + u.Host + "/…"
	}
	return clean("redirect to "+target) + " refused (credentials are never sent to another URL)"
}

// transportError keeps the cause of a request that got no answer but drops
// the URL net/http puts in front of it: an upload URL's query is a
// credential.
func (c *Client) transportError(method, endpoint string, err error, secrets ...string) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &Error{Method: method, Endpoint: endpoint, Err: redactedError{err, c.cleaner(secrets...)(err.Error())}}
}

// unanswered marks a transport error of a call made with ctx: sent, the
// request went out whole, so the call may have taken effect; and whether
// this side stopped waiting (ctx ended: the call's time ran out, or its
// caller's context ended, with whatever cause; or a timeout of the HTTP
// client's own), so Swonkie may still be acting on it. ctx tells most of
// the latter: a context ended with a cause makes net/http return that
// cause, not a context error.
func (c *Client) unanswered(ctx context.Context, err error, sent bool) error {
	var e *Error
	if errors.As(err, &e) {
		var ne net.Error
		e.Sent = sent
		e.GaveUp = ctx.Err() != nil || (errors.As(err, &ne) && ne.Timeout())
	}
	return err
}

// statusError describes an answer outside 2xx. secrets are removed from
// the text it keeps, on top of the client's credentials.
func (c *Client) statusError(method, endpoint string, resp *http.Response, raw []byte, secrets ...string) error {
	clean := c.cleaner(secrets...)
	e := &Error{Method: method, Endpoint: endpoint, StatusCode: resp.StatusCode}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		e.Message = redirectMessage(resp, clean)
		return e
	}
	var body struct {
		Message json.RawMessage `json:"message"`
		Error   json.RawMessage `json:"error"`
		Errors  []json.RawMessage
	}
	if json.Unmarshal(raw, &body) == nil {
		e.Message = clean(firstText(body.Message, body.Error))
		for _, p := range body.Errors {
			e.Problems = append(e.Problems, c.problemCleaned(p, clean))
		}
	} else if len(raw) > 0 && utf8.Valid(raw) && !bytes.HasPrefix(bytes.TrimSpace(raw), []byte("<")) {
		// Storage and proxies answer in plain text; keep a line of it.
		e.Message = clean(string(raw))
	}
	if d, ok := ParseRetryAfter(resp.Header, c.now(), c.maxRetryAfter); ok {
		e.RetryAfter = d
	}
	return e
}

// problem reads one entry of an "errors" list, which may be a string or an
// object with message/field (the shape is not documented).
func (c *Client) problem(raw json.RawMessage) Problem { return c.problemCleaned(raw, c.clean) }

func (c *Client) problemCleaned(raw json.RawMessage, clean func(string) string) Problem {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return Problem{Message: clean(s)}
	}
	var p struct {
		Field    string `json:"field"`
		Property string `json:"property"`
		Path     string `json:"path"`
		Message  string `json:"message"`
	}
	_ = json.Unmarshal(raw, &p)
	field := p.Field
	if field == "" {
		field = p.Property
	}
	if field == "" {
		field = p.Path
	}
	return Problem{Field: clean(field), Message: clean(p.Message)}
}

// cleaner returns clean, also removing secrets (an upload URL and its
// signature) from the text before it is shortened.
func (c *Client) cleaner(secrets ...string) func(string) string {
	var pairs []string
	for _, s := range secrets {
		if s != "" {
			pairs = append(pairs, s, "[redacted]")
		}
	}
	if len(pairs) == 0 {
		return c.clean
	}
	r := strings.NewReplacer(pairs...)
	return func(s string) string { return c.clean(r.Replace(s)) }
}

// clean removes credentials and shortens s for use in an error.
func (c *Client) clean(s string) string {
	s = strings.TrimSpace(c.secrets.Replace(s))
	if utf8.RuneCountInString(s) > maxMessageRunes {
		r := []rune(s)
		s = string(r[:maxMessageRunes]) + "…"
	}
	return s
}

// firstText returns the first of the raw JSON values that is a non-empty
// string, or the first non-empty one as written (a message may be an array
// of strings).
func firstText(vals ...json.RawMessage) string {
	for _, v := range vals {
		var s string
		if json.Unmarshal(v, &s) == nil && s != "" {
			return s
		}
	}
	for _, v := range vals {
		var ss []string
		if json.Unmarshal(v, &ss) == nil && len(ss) > 0 {
			return strings.Join(ss, "; ")
		}
	}
	return ""
}

// redactedError keeps errors.Is/As working on a transport error whose text
// had to be cleaned.
type redactedError struct {
	err error
	msg string
}

func (r redactedError) Error() string { return r.msg }
func (r redactedError) Unwrap() error { return r.err }

// escape path-escapes one id: ids look like base64 and may hold '/', '+'
// and '='.
func escape(id string) string { return url.PathEscape(id) }

// ErrInvalid is wrapped by errors for calls refused before they were sent
// (an empty id, a label name too long): permanent, like a 400.
var ErrInvalid = errors.New("invalid argument")

// requireID refuses an empty id before it turns "/media/{id}" into "/media/".
func requireID(method, endpoint, what, id string) error {
	if strings.TrimSpace(id) == "" {
		return fmt.Errorf("swonkie %s %s: empty %s id: %w", method, endpoint, what, ErrInvalid)
	}
	return nil
}

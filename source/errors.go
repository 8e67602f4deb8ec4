package source

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// Error is the only error type Check, Open and Media.Read return. Its text is
// safe to log: Source is redacted and causes that quoted a URL are scrubbed,
// because presigned URLs carry credentials in their query strings.
type Error struct {
	Op        string // "check", "open" or "read"
	Source    string // the source with userinfo, query and fragment removed
	Status    int    // HTTP status of the final response; 0 when there was none
	Permanent bool   // retrying cannot succeed; see IsPermanent
	Err       error  // the cause; never nil
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(" source ")
	b.WriteString(e.Source)
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsPermanent reports whether err (or an error it wraps) is a *Error that
// retrying cannot fix. Anything else, including errors this package did not
// make, counts as transient so that the caller's retry budget decides.
func IsPermanent(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Permanent
}

// The kinds of failure that are permanent. They are unexported: callers need
// IsPermanent and a readable message, not a taxonomy to keep compatible.
var (
	errBadSource   = errors.New("bad source")
	errOutsideRoot = errors.New("outside MEDIA_ROOT")
	errNotFound    = errors.New("not found")
	errNotRegular  = errors.New("not a regular file")
	errNotPublic   = errors.New("address is not public")
	errRedirects   = errors.New("too many redirects")
	errTooLarge    = errors.New("too large")
	errEmpty       = errors.New("empty")
	errNotMedia    = errors.New("not readable media")
	errNoSuchHost  = errors.New("no such host")
)

var permanentKinds = []error{
	errBadSource, errOutsideRoot, errNotFound, errNotRegular,
	errNotPublic, errRedirects, errTooLarge, errEmpty, errNotMedia,
}

// kindError lets each failure carry a message written for the person reading
// the log while still matching its kind with errors.Is.
type kindError struct {
	kind  error
	msg   string
	cause error
}

func (e *kindError) Error() string        { return e.msg }
func (e *kindError) Is(target error) bool { return target == e.kind }
func (e *kindError) Unwrap() error        { return e.cause }

func failf(kind error, cause error, format string, args ...any) error {
	return &kindError{kind: kind, msg: fmt.Sprintf(format, args...), cause: cause}
}

// statusError is a non-2xx answer. Its text comes from the code, not from the
// server's reason phrase, which is arbitrary text chosen by a stranger.
type statusError int

func (s statusError) Error() string {
	if t := http.StatusText(int(s)); t != "" {
		return fmt.Sprintf("%d %s", int(s), t)
	}
	return fmt.Sprintf("HTTP status %d", int(s))
}

// permanentStatus lists the answers that will not change on retry. Every
// other status, 408, 425, 429 and 5xx included, is left to the retry budget,
// as the design's error classification (invariant 4) requires.
func permanentStatus(code int) bool {
	switch code {
	case http.StatusBadRequest, http.StatusUnauthorized, http.StatusForbidden,
		http.StatusNotFound, http.StatusGone, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// newError wraps cause for src and decides permanence in one place, so that
// the classification cannot drift between the local and remote paths.
func newError(op, src string, cause error) *Error {
	e := &Error{Op: op, Source: redact(src), Err: scrubError(cause)}
	var s statusError
	if errors.As(cause, &s) {
		e.Status = int(s)
		e.Permanent = permanentStatus(int(s))
		return e
	}
	for _, k := range permanentKinds {
		if errors.Is(cause, k) {
			e.Permanent = true
			break
		}
	}
	if noSuchHost(cause) {
		// The resolver's own words repeat the host the source names.
		e.Permanent, e.Err = true, failf(errNoSuchHost, cause, "its host does not exist (DNS: no such host)")
	}
	return e
}

// noSuchHost: the name does not exist (NXDOMAIN). A resolver that timed
// out or failed (SERVFAIL) is not this, and stays transient; a name that
// does not exist will not start to for a retry's sake, so waiting out a
// retry budget on it only delays the answer.
func noSuchHost(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && de.IsNotFound && !de.IsTimeout && !de.IsTemporary
}

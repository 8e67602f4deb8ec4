package swonkie

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Error is every failure of a Swonkie call: an HTTP answer outside 2xx, or a
// request that got no answer at all (StatusCode 0, Err set).
//
// It names the method and the endpoint template ("/media/{id}",
// "{uploadUrl}"), never a full URL: ids belong to the caller's message and
// upload URLs carry a signature.
type Error struct {
	Method     string
	Endpoint   string
	StatusCode int
	// Message is the server's own explanation, shortened and with the
	// client's credentials removed should the server echo them.
	Message string
	// Problems are the field-level complaints of a 400 body, when it has any.
	Problems []Problem
	// RetryAfter is what the server asked us to wait (Retry-After), capped
	// by the client's MaxRetryAfter; zero when it asked nothing.
	RetryAfter time.Duration
	// Err is the transport error when there was no answer.
	Err error
	// Sent: with no answer, the request had been sent whole, so the call
	// may have taken effect (IsReplyLost).
	Sent bool
	// GaveUp: with no answer, this side stopped waiting (the call's time
	// ran out, or its context ended), so Swonkie may still be acting on
	// it (MayStillLand).
	GaveUp bool
}

// Problem is one complaint of an error or validation body.
type Problem struct {
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("swonkie ")
	b.WriteString(e.Method)
	b.WriteByte(' ')
	b.WriteString(e.Endpoint)
	b.WriteString(": ")
	if e.StatusCode == 0 {
		b.WriteString("no answer: ")
		if e.Err != nil {
			b.WriteString(e.Err.Error())
		} else {
			b.WriteString("unknown transport error")
		}
		return b.String()
	}
	b.WriteString(strconv.Itoa(e.StatusCode))
	if t := http.StatusText(e.StatusCode); t != "" {
		b.WriteByte(' ')
		b.WriteString(t)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	for i, p := range e.Problems {
		if i == 3 {
			fmt.Fprintf(&b, "; and %d more", len(e.Problems)-i)
			break
		}
		b.WriteString("; ")
		if p.Field != "" {
			b.WriteString(p.Field)
			b.WriteString(": ")
		}
		b.WriteString(p.Message)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// IsTransient reports whether trying the same call again later can succeed:
// no answer (network errors, timeouts, a cancelled context), 408, 425, 429
// and every 5xx.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.StatusCode == 0:
			return true
		case e.StatusCode == http.StatusRequestTimeout,
			e.StatusCode == http.StatusTooEarly,
			e.StatusCode == http.StatusTooManyRequests,
			e.StatusCode >= 500:
			return true
		}
		return false
	}
	// Errors from outside this package that still mean "no answer".
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// IsPermanent reports whether the same call can never succeed as it is:
// every 4xx except 408, 425 and 429 (400, 401, 403, 404, 409, 410, 422 are
// the ones Swonkie is known or expected to send), every 3xx (redirects are
// refused, so asking again gets the same refusal) and a refused upload URL.
func IsPermanent(err error) bool {
	var ue *UploadURLError
	if errors.Is(err, ErrInvalid) || errors.As(err, &ue) {
		return true
	}
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.StatusCode {
	case http.StatusRequestTimeout, http.StatusTooEarly, http.StatusTooManyRequests:
		return false
	}
	return e.StatusCode >= 300 && e.StatusCode < 500
}

// IsReplyLost reports a call sent whole whose answer never came (or was
// cut off): whatever it asked may have been done. The client cannot tell a
// lost answer from a request dropped unread, so this errs on the side of
// "may have been done".
func IsReplyLost(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == 0 && e.Sent
}

// MayStillLand reports a call that ended while Swonkie may still be
// acting on it: sent whole, it went unanswered because this side stopped
// waiting (its time ran out, or its context ended), or a gateway answered
// 504 because it stopped waiting for the server behind it. A lost answer
// of any other kind (the connection closed or reset) came after the
// server was done with the request, or gone.
func MayStillLand(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	return e.StatusCode == http.StatusGatewayTimeout || (e.StatusCode == 0 && e.Sent && e.GaveUp)
}

// IsNotFound reports a 404 or 410: the thing is not (or no longer) in the
// workspace. Deleting something that is not found counts as done.
func IsNotFound(err error) bool {
	return hasStatus(err, http.StatusNotFound) || hasStatus(err, http.StatusGone)
}

// IsRateLimited reports a 429.
func IsRateLimited(err error) bool { return hasStatus(err, http.StatusTooManyRequests) }

// IsConflict reports a 409, which Swonkie sends for a change the resource's
// current state does not allow (confirming twice, a stage change that does
// not apply).
func IsConflict(err error) bool { return hasStatus(err, http.StatusConflict) }

// StatusCode returns the HTTP status of err, or 0 when it had none.
func StatusCode(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.StatusCode
	}
	var u *UnusableAnswerError
	if errors.As(err, &u) {
		return u.Status
	}
	return 0
}

// RetryAfter returns how long the server asked the caller to wait before
// trying again, when it asked.
func RetryAfter(err error) (time.Duration, bool) {
	var e *Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		return e.RetryAfter, true
	}
	return 0, false
}

func hasStatus(err error, code int) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == code
}

// DefaultThrottle is how long a 429 holds its endpoint for the fleet
// when it does not say how long (no Retry-After, 0, or unreadable): one
// second, the window the budget's rate is counted over.
const DefaultThrottle = time.Second

// DefaultMaxRetryAfter caps what a server may ask us to wait: a misbehaving
// or hostile Retry-After must not park work for days.
const DefaultMaxRetryAfter = 5 * time.Minute

// ParseRetryAfter reads a Retry-After header in either of its forms
// (delay-seconds or an HTTP-date), relative to now, capped at max (no cap
// when max <= 0). It reports false when the header is absent or unreadable.
func ParseRetryAfter(h http.Header, now time.Time, max time.Duration) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(365*24*time.Hour/time.Second) {
			secs = int64(365 * 24 * time.Hour / time.Second)
		}
		d = time.Duration(secs) * time.Second
	} else if at, err := http.ParseTime(v); err == nil {
		d = at.Sub(now)
		if d < 0 {
			d = 0
		}
	} else {
		return 0, false
	}
	if max > 0 && d > max {
		d = max
	}
	return d, true
}

// RetryAfterHeader is ParseRetryAfter with the current time and the default
// cap, in the shape an HTTP RoundTripper that records 429s wants.
func RetryAfterHeader(h http.Header) (time.Duration, bool) {
	return ParseRetryAfter(h, time.Now(), DefaultMaxRetryAfter)
}

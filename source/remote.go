package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// urlTarget is an http(s) source that passed Check.
type urlTarget struct {
	raw  string
	name string // last path segment, "" when there is none
}

func (o *Opener) parseURL(src string) (*urlTarget, error) {
	u, err := url.Parse(src)
	if err != nil {
		return nil, failf(errBadSource, nil, "malformed URL: %s", urlErrText(err))
	}
	switch {
	case u.Opaque != "":
		return nil, failf(errBadSource, nil, "malformed URL: want %s://host/path", u.Scheme)
	case u.Host == "" || u.Hostname() == "":
		return nil, failf(errBadSource, nil, "URL has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return nil, failf(errBadSource, nil, "URL has invalid port %s", p)
		}
	}
	if err := o.allowed.refuseLiteral(u.Hostname()); err != nil {
		return nil, err
	}
	return &urlTarget{raw: src, name: lastSegment(u.Path)}, nil
}

// lastSegment is the file name a URL path ends in, or "" when it ends in a
// slash or has no path.
func lastSegment(p string) string {
	if p == "" || strings.HasSuffix(p, "/") {
		return ""
	}
	return path.Base(p)
}

// urlErrText is url.Parse's complaint without the URL it quotes.
func urlErrText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return scrub(ue.Err.Error())
	}
	return scrub(err.Error())
}

func newTransport(allowed allowlist, r *net.Resolver) *http.Transport {
	return &http.Transport{
		Proxy: nil, // HTTP_PROXY must not become a way around the guard
		DialContext: (&guardedDialer{
			allowed: allowed,
			dialer:  net.Dialer{Resolver: r, KeepAlive: 30 * time.Second},
		}).DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		// Media is already compressed; transparent gzip would also hide the
		// length that spares a spool file.
		DisableCompression: true,
	}
}

// checkRedirect follows at most MaxRedirects redirects, and only to http(s).
// Where a redirect leads is judged by the guard when it is dialled.
func (o *Opener) checkRedirect(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return failf(errBadSource, nil, "redirect to %s refused: only http and https are followed", redact(req.URL.String()))
	}
	if len(via) > o.maxRedirects {
		return failf(errRedirects, nil, "stopped after %d redirects (the limit is %d)", len(via)-1, o.maxRedirects)
	}
	return nil
}

func (o *Opener) openRemote(parent context.Context, src string, t *urlTarget, want Hint) (*Media, error) {
	fail := func(err error) (*Media, error) { return nil, newError("open", src, err) }

	// ctx outlives this call: it bounds the body too, and Media.Close
	// cancels it. The timer bounds the wait for the response headers and the
	// few bytes sniffed from the body, so that a server which stalls cannot
	// hold Open; it is stopped before the stream is handed over.
	ctx, cancel := context.WithCancel(parent)
	var fired atomic.Bool
	timer := time.AfterFunc(o.timeout, func() {
		fired.Store(true)
		cancel()
	})
	abort := func(err error) (*Media, error) {
		timer.Stop()
		cancel()
		if fired.Load() && parent.Err() == nil {
			err = fmt.Errorf("no response within %s: %w", o.timeout, context.DeadlineExceeded)
		}
		return fail(err)
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, t.raw, nil)
	if err != nil {
		return abort(failf(errBadSource, nil, "malformed URL: %s", urlErrText(err)))
	}
	// Ask for the bytes as stored: a compressed answer would be uploaded
	// compressed, under the wrong length.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "mediaflow-source/1")

	resp, err := o.client.Do(req)
	if err != nil {
		return abort(transportError(err))
	}
	closeBody := func() error {
		err := resp.Body.Close()
		cancel()
		return err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// The error page is not drained: a slow one would hold Open, and one
		// lost keep-alive connection per failure is cheap.
		resp.Body.Close()
		return abort(statusError(resp.StatusCode))
	}

	// After redirects the final URL usually names the file ("/download?id=7"
	// leads to ".../beach.jpg"), so it is preferred to the one asked for.
	name := want.Name
	if name == "" {
		name = lastSegment(resp.Request.URL.Path)
	}
	if name == "" {
		name = t.name
	}
	if name == "" {
		name = "media"
	}
	header := resp.Header.Get("Content-Type")
	body := o.watchRate(resp.Body, cancel)

	if resp.ContentLength < 0 {
		// Spooling reads the whole body: that is streaming, bounded by the
		// caller's context alone.
		if !timer.Stop() {
			resp.Body.Close()
			return abort(context.Canceled)
		}
		f, size, err := o.spool(ctx, body, o.maxSpool)
		closeBody()
		if err != nil {
			return fail(err)
		}
		head := make([]byte, min(sniffLen, size))
		n, err := f.ReadAt(head, 0)
		if err != nil && err != io.EOF {
			f.discard()
			return fail(err)
		}
		return newMedia(src, name, detectType(want.ContentType, head[:n], header), size, f, f.discard), nil
	}

	if resp.ContentLength == 0 {
		resp.Body.Close()
		return abort(failf(errEmpty, nil, "response body is empty"))
	}
	// Peek at the head and put it back in front of the rest of the body.
	head := make([]byte, min(sniffLen, resp.ContentLength))
	_, err = io.ReadFull(body, head)
	if !timer.Stop() || err != nil {
		resp.Body.Close()
		if err == nil {
			err = context.Canceled
		}
		return abort(fmt.Errorf("read response body: %w", err))
	}
	r := io.MultiReader(bytes.NewReader(head), body)
	return newMedia(src, name, detectType(want.ContentType, head, header), resp.ContentLength, r, closeBody), nil
}

// watchRate puts the SOURCE_MIN_RATE guard on a response body; cut
// cancels the request, which aborts a blocked Read.
func (o *Opener) watchRate(body io.Reader, cut func()) io.Reader {
	if o.minRate == 0 {
		return body
	}
	return &rateGuard{r: body, clock: o.clock, min: o.minRate, window: o.rateWindow, cut: cut}
}

// transportError strips the *url.Error that net/http wraps around everything:
// its text is the full URL, signature and all.
func transportError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ae *addressError
	if errors.As(err, &ae) {
		return ae
	}
	return err
}

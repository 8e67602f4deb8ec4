package swonkie

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/mediaflow/mediaflow/internal/netguard"
)

// UploadURLError is an upload URL the client refuses to send a file to:
// a scheme other than https (or the base URL's own), credentials in the
// URL, or a host that is, or resolves to, a private, loopback or
// link-local address without being allowed. The create answer that named
// it is what is wrong, so asking again does not help: it is permanent.
type UploadURLError struct {
	// MediaID is the media the URL was for, when the caller said.
	MediaID string
	// Reason says what is wrong; it never holds the URL's path or query.
	Reason string
}

func (e *UploadURLError) Error() string {
	media := "a media"
	if e.MediaID != "" {
		media = "media " + e.MediaID
	}
	return fmt.Sprintf("swonkie %s %s: upload URL of %s refused: %s", http.MethodPut, UploadEndpoint, media, e.Reason)
}

// checkUploadURL decides whether a file may be sent to raw. The upload URL
// comes from the API's answer: a compromised or spoofed answer must not be
// able to point the worker at its own network (a metadata service, an
// admin port) or at plain http.
//
// The check resolves the host, to refuse a private address before any
// byte is read from the source; the transport New makes checks the
// addresses again as it dials them (uploaddial.go), so a name that
// resolves differently by then (DNS rebinding) is refused too. A
// transport given in Config.HTTPClient gets only this first check.
func (c *Client) checkUploadURL(ctx context.Context, mediaID, raw string) (*url.URL, error) {
	refuse := func(format string, args ...any) error {
		return &UploadURLError{MediaID: mediaID, Reason: c.clean(fmt.Sprintf(format, args...))}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return nil, refuse("not an absolute URL")
	}
	if u.Scheme != "https" && u.Scheme != c.base.Scheme {
		return nil, refuse("scheme %q (want https)", u.Scheme)
	}
	if u.User != nil {
		return nil, refuse("it carries credentials (user info)")
	}
	host := normalHost(u.Hostname())
	if host == "" {
		return nil, refuse("no host")
	}
	if c.uploadHostAllowed(host) {
		return u, nil
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else if numericHost(host) {
		// 2130706433, 127.1 and 0x7f000001 are 127.0.0.1 to some resolvers
		// and dialers; no real storage host is spelled that way.
		return nil, refuse("host %q is a numeric address in a non-standard spelling", host)
	} else {
		addrs, err = c.lookupHost(ctx, host)
		if err != nil {
			return nil, &Error{Method: http.MethodPut, Endpoint: UploadEndpoint, Err: fmt.Errorf("resolve upload host %s: %w", host, err)}
		}
		if len(addrs) == 0 {
			return nil, &Error{Method: http.MethodPut, Endpoint: UploadEndpoint, Err: fmt.Errorf("resolve upload host %s: no addresses", host)}
		}
	}
	for _, a := range addrs {
		if class := netguard.Classify(a); class != "" {
			return nil, refuse("host %s is %s, which is not a public address (%s); allow the host to use it", host, a.Unmap(), class)
		}
	}
	return u, nil
}

// numericHost reports a host whose last label is a number (decimal, octal
// or hex): not a DNS name, since no top-level domain is numeric.
func numericHost(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if strings.HasPrefix(last, "0x") {
		last = last[2:]
		return last == "" || strings.Trim(last, "0123456789abcdef") == ""
	}
	return strings.Trim(last, "0123456789") == ""
}

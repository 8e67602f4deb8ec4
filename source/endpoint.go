package source

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Endpoints are URLs mediaflow sends to rather than reads from (the
// webhooks of the apps that enqueue). They go through the same address
// guard as media sources: an app must not be able to make the worker call
// into its own network.

// CheckEndpoint validates an endpoint URL without I/O: https (plain http
// only to a host in ALLOWED_SOURCE_HOSTS), no user info, and no private,
// loopback or link-local address unless its host is allowed.
func (o *Opener) CheckEndpoint(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("malformed URL: %s", urlErrText(err))
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("scheme %q: want https", u.Scheme)
	case u.Opaque != "" || u.Hostname() == "":
		return fmt.Errorf("URL has no host")
	case u.User != nil:
		return fmt.Errorf("URL carries user info; put credentials in the receiver's own checks")
	case u.Scheme == "http" && !o.allowed.allows(u.Hostname()):
		return fmt.Errorf("plain http to %s: use https, or allow the host in ALLOWED_SOURCE_HOSTS", u.Hostname())
	}
	if err := o.allowed.refuseLiteral(u.Hostname()); err != nil {
		return err
	}
	if strings.ContainsFunc(raw, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Errorf("URL contains control characters")
	}
	return nil
}

// EndpointTransport is a transport whose connections pass the address
// guard at dial time (a name that resolves to a private address is
// refused unless allowed), for sending to endpoints.
func (o *Opener) EndpointTransport() http.RoundTripper {
	return newTransport(o.allowed, o.resolver)
}

package swonkie

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/mediaflow/mediaflow/internal/netguard"
)

// uploadHostKey marks a request's context with the host of an upload URL
// that is neither the base URL's host nor allowed: every connection the
// transport makes to that host passes the address check at dial time.
type uploadHostKey struct{}

type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// guardedDial wraps the transport's dial. For a marked upload it resolves
// the host (LookupHost), refuses the connection when any address is not
// public, and dials the addresses it checked: a name that resolved to a
// public address when the URL was checked and to a private one now (DNS
// rebinding) is refused, since what is dialled is what was judged.
// Every other connection (the API's, or a proxy's, which decides itself
// where an upload goes) is dialled as it is.
func (c *Client) guardedDial(dial dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _ := ctx.Value(uploadHostKey{}).(string)
		h, port, err := net.SplitHostPort(addr)
		if host == "" || err != nil || normalHost(h) != host {
			return dial(ctx, network, addr)
		}
		addrs, err := c.resolveUploadHost(ctx, host)
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			if class := netguard.Classify(a); class != "" {
				return nil, &UploadURLError{Reason: c.clean(fmt.Sprintf(
					"host %s resolved to %s when connecting, which is not a public address (%s); allow the host to use it", host, a.Unmap(), class))}
			}
		}
		var first error
		for _, a := range addrs {
			conn, err := dial(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
			if err == nil {
				return conn, nil
			}
			if first == nil {
				first = err
			}
		}
		return nil, first
	}
}

// resolveUploadHost is host's addresses: itself when it is a literal,
// else what LookupHost answers.
func (c *Client) resolveUploadHost(ctx context.Context, host string) ([]netip.Addr, error) {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return []netip.Addr{a}, nil
	}
	addrs, err := c.lookupHost(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve upload host %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve upload host %s: no addresses", host)
	}
	return addrs, nil
}

// normalHost is a host as upload URLs are judged: lower case, without a
// trailing dot.
func normalHost(h string) string { return strings.ToLower(strings.TrimSuffix(h, ".")) }

// uploadHostAllowed: the base URL's host and ALLOWED_UPLOAD_HOSTS may be
// private; every other host must be public.
func (c *Client) uploadHostAllowed(host string) bool {
	return host == normalHost(c.base.Hostname()) || c.allowedUploadHosts[host]
}

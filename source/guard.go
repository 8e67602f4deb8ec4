package source

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"

	"github.com/mediaflow/mediaflow/internal/netguard"
)

// The address guard (which addresses are public: internal/netguard) keeps HTTP sources off the worker's own network: a URL
// handed to the worker must not let a stranger read the cloud metadata
// service, an admin port on loopback or a neighbour on the private network.
// The check runs in the dialer on the address actually being connected, after
// DNS, so neither DNS rebinding nor a redirect can route around it.

// addressError is a refusal by the guard. It names the host as written in the
// URL and says how to allow it, because the person reading it is usually an
// operator whose internal media store was just refused.
type addressError struct {
	host  string
	addr  netip.Addr
	class string
}

func (e *addressError) Error() string {
	var b strings.Builder
	if e.host == e.addr.String() {
		fmt.Fprintf(&b, "address %s is not a public address (%s)", e.addr, e.class)
	} else if e.addr.IsValid() {
		fmt.Fprintf(&b, "host %s resolves to %s, which is not a public address (%s)", e.host, e.addr, e.class)
	} else {
		fmt.Fprintf(&b, "host %s is not a public address (%s)", e.host, e.class)
	}
	fmt.Fprintf(&b, "; if this source is trusted, add %q to ALLOWED_SOURCE_HOSTS", e.host)
	return b.String()
}

func (e *addressError) Is(target error) bool { return target == errNotPublic }

// allowlist holds ALLOWED_SOURCE_HOSTS in the form canonHost produces.
type allowlist map[string]bool

func (l allowlist) allows(host string) bool { return l[canonHost(host)] }

// canonHost makes "Media.Example.", "media.example" and "[::1]", "::1" and
// "0:0::1" compare equal, so the allowlist matches however a URL spells a host.
func canonHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// isLocalhostName reports names that RFC 6761 reserves for loopback; they
// are refused without a DNS lookup.
func isLocalhostName(host string) bool {
	h := canonHost(host)
	return h == "localhost" || strings.HasSuffix(h, ".localhost")
}

// refuseLiteral is the I/O-free part of the guard, for Check: IP literals and
// localhost names can be judged before anything is queued. Every other name
// is judged at dial time.
func (l allowlist) refuseLiteral(host string) error {
	if l.allows(host) {
		return nil
	}
	if a, err := netip.ParseAddr(canonHost(host)); err == nil {
		if c := netguard.Classify(a); c != "" {
			return &addressError{host: canonHost(host), addr: a, class: c}
		}
		return nil
	}
	if a, numeric, ok := inetAtonAddr(canonHost(host)); numeric {
		if !ok {
			return failf(errBadSource, nil, "host %s is neither a host name nor an IPv4 address", canonHost(host))
		}
		if c := netguard.Classify(a); c != "" {
			return &addressError{host: canonHost(host), addr: a, class: c}
		}
		// A public address in an odd spelling is refused too: the resolver
		// may read it differently from the guard, and nobody needs it.
		return failf(errBadSource, nil, "host %s is an unusual spelling of the IPv4 address %s: write it as %s", canonHost(host), a, a)
	}
	if isLocalhostName(host) {
		return &addressError{host: canonHost(host), class: "loopback name"}
	}
	return nil
}

// guardedDialer dials through the address guard unless the host is on the
// allowlist. The allowlist is matched on the host name the URL gave, never on
// the resolved address: allowing "media.internal" must not also allow every
// other name that happens to resolve to the same private address.
type guardedDialer struct {
	allowed allowlist
	dialer  net.Dialer // template; copied per dial to attach the host to Control
}

func (g *guardedDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	d := g.dialer
	if !g.allowed.allows(host) {
		host := canonHost(host)
		// Control runs after DNS and before connect(2) for every address the
		// dialer tries, so the check sees exactly what would be connected.
		d.Control = func(network, address string, _ syscall.RawConn) error {
			return checkDial(host, network, address)
		}
	}
	return d.DialContext(ctx, network, address)
}

func checkDial(host, network, address string) error {
	if network != "tcp4" && network != "tcp6" {
		return fmt.Errorf("dial %s: only TCP is allowed", network)
	}
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: an address the guard cannot read is not let through.
		return &addressError{host: host, class: "unparsable address " + address}
	}
	if c := netguard.Classify(ap.Addr()); c != "" {
		return &addressError{host: host, addr: ap.Addr().Unmap(), class: c}
	}
	return nil
}

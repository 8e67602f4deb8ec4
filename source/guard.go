package source

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
)

// The address guard keeps HTTP sources off the worker's own network: a URL
// handed to the worker must not let a stranger read the cloud metadata
// service, an admin port on loopback or a neighbour on the private network.
// The check runs in the dialer on the address actually being connected, after
// DNS, so neither DNS rebinding nor a redirect can route around it.

type addrRange struct {
	prefix netip.Prefix
	class  string
}

func ranges(pairs ...string) []addrRange {
	out := make([]addrRange, 0, len(pairs)/2)
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, addrRange{netip.MustParsePrefix(pairs[i]), pairs[i+1]})
	}
	return out
}

// IANA's IPv4 special-purpose registry, minus the few entries (AS112, AMT)
// that are public services no media lives on anyway. Order matters: the first
// match names the class in the error, so narrower ranges come first.
var blockedV4 = ranges(
	"0.0.0.0/32", "unspecified",
	"0.0.0.0/8", "\"this network\"",
	"10.0.0.0/8", "private network",
	"100.64.0.0/10", "carrier-grade NAT",
	"127.0.0.0/8", "loopback",
	"169.254.169.254/32", "link-local, cloud metadata service",
	"169.254.0.0/16", "link-local",
	"172.16.0.0/12", "private network",
	"192.0.0.0/24", "IETF protocol assignments",
	"192.0.2.0/24", "documentation",
	"192.88.99.0/24", "6to4 relay anycast",
	"192.168.0.0/16", "private network",
	"198.18.0.0/15", "benchmarking",
	"198.51.100.0/24", "documentation",
	"203.0.113.0/24", "documentation",
	"224.0.0.0/4", "multicast",
	"255.255.255.255/32", "broadcast",
	"240.0.0.0/4", "reserved",
)

// IPv6 is judged the other way round: only global unicast (2000::/3) can
// pass, so whatever IANA allocates next outside it is refused by default.
var (
	globalV6  = netip.MustParsePrefix("2000::/3")
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

var blockedV6 = ranges(
	"64:ff9b:1::/48", "local-use NAT64",
	"100::/64", "discard-only",
	"2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID)",
	"2001:db8::/32", "documentation",
	"3fff::/20", "documentation",
	"5f00::/16", "segment routing",
	"fc00::/7", "unique local (private network)",
	"fe80::/10", "link-local",
	"fec0::/10", "site-local",
	"ff00::/8", "multicast",
)

// classify reports why a is not a public address, or "" when it is.
// Addresses that embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged
// by the address they embed, since that is where the packets end up.
func classify(a netip.Addr) string {
	a = a.WithZone("")
	switch {
	case !a.IsValid():
		return "invalid"
	case a.Is4In6():
		if c := classify(a.Unmap()); c != "" {
			return "IPv4-mapped " + c
		}
		return ""
	case a.Is4():
		for _, r := range blockedV4 {
			if r.prefix.Contains(a) {
				return r.class
			}
		}
		return ""
	case a.IsUnspecified():
		return "unspecified"
	case a.IsLoopback():
		return "loopback"
	case nat64.Contains(a):
		b := a.As16()
		if c := classify(netip.AddrFrom4([4]byte(b[12:16]))); c != "" {
			return "NAT64 form of " + c
		}
		return ""
	case sixToFour.Contains(a):
		b := a.As16()
		if c := classify(netip.AddrFrom4([4]byte(b[2:6]))); c != "" {
			return "6to4 form of " + c
		}
		return ""
	}
	for _, r := range blockedV6 {
		if r.prefix.Contains(a) {
			return r.class
		}
	}
	if !globalV6.Contains(a) {
		return "reserved (outside IPv6 global unicast)"
	}
	return ""
}

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
		if c := classify(a); c != "" {
			return &addressError{host: canonHost(host), addr: a, class: c}
		}
		return nil
	}
	if a, numeric, ok := inetAtonAddr(canonHost(host)); numeric {
		if !ok {
			return failf(errBadSource, nil, "host %s is neither a host name nor an IPv4 address", canonHost(host))
		}
		if c := classify(a); c != "" {
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
	if c := classify(ap.Addr()); c != "" {
		return &addressError{host: host, addr: ap.Addr().Unmap(), class: c}
	}
	return nil
}

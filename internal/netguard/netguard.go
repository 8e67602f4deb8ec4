// Package netguard tells public addresses from the worker's own networks:
// loopback, private, link-local (the cloud metadata service), carrier-grade
// NAT and every other special-purpose range. The media fetcher and the
// webhook sender (package source) and the upload of files to Swonkie's
// storage (package swonkie) refuse to connect to anything it does not call
// public, so that a URL handed to the worker cannot reach into the network
// it runs on.
package netguard

import "net/netip"

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

// Classify reports why a is not a public address, or "" when it is.
// Addresses that embed an IPv4 address (IPv4-mapped, NAT64, 6to4) are judged
// by the address they embed, since that is where the packets end up.
func Classify(a netip.Addr) string {
	a = a.WithZone("")
	switch {
	case !a.IsValid():
		return "invalid"
	case a.Is4In6():
		if c := Classify(a.Unmap()); c != "" {
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
		if c := Classify(netip.AddrFrom4([4]byte(b[12:16]))); c != "" {
			return "NAT64 form of " + c
		}
		return ""
	case sixToFour.Contains(a):
		b := a.As16()
		if c := Classify(netip.AddrFrom4([4]byte(b[2:6]))); c != "" {
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

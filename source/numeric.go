package source

import (
	"net/netip"
	"strconv"
	"strings"
)

// inetAtonAddr reads the IPv4 spellings that inet_aton(3), getaddrinfo(3)
// and browsers accept besides the dotted quad: "2130706433", "127.1",
// "0x7f000001", "017700000001" are all 127.0.0.1. netip refuses them, so
// without this they would pass Check as host names and only be stopped at
// dial time, as a failure that looks transient. It follows the WHATWG URL
// rule: a host whose last label is a number is an IPv4 address or nothing.
// numeric reports whether h is such a host; ok whether it also parses.
func inetAtonAddr(h string) (a netip.Addr, numeric, ok bool) {
	parts := strings.Split(h, ".")
	if !isNumberLabel(parts[len(parts)-1]) {
		return netip.Addr{}, false, false
	}
	if len(parts) > 4 {
		return netip.Addr{}, true, false
	}
	var vals []uint64
	for _, p := range parts {
		v, ok := parseAtonPart(p)
		if !ok {
			return netip.Addr{}, true, false
		}
		vals = append(vals, v)
	}
	// Every part but the last is one byte; the last fills what is left.
	var n uint64
	for _, v := range vals[:len(vals)-1] {
		if v > 0xff {
			return netip.Addr{}, true, false
		}
		n = n<<8 | v
	}
	rest := 8 * uint(5-len(vals))
	last := vals[len(vals)-1]
	if last >= 1<<rest {
		return netip.Addr{}, true, false
	}
	n = n<<rest | last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true, true
}

// isNumberLabel is WHATWG's "ends in a number" test for one label.
func isNumberLabel(s string) bool {
	if s == "" {
		return false
	}
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		return strings.Trim(s[2:], "0123456789abcdefABCDEF") == ""
	}
	return strings.Trim(s, "0123456789") == ""
}

func parseAtonPart(s string) (uint64, bool) {
	base := 10
	switch {
	case len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'):
		base, s = 16, s[2:]
		if s == "" {
			return 0, true // "0x" is zero to inet_aton
		}
	case len(s) > 1 && s[0] == '0':
		base, s = 8, s[1:]
	}
	v, err := strconv.ParseUint(s, base, 32)
	return v, err == nil
}

package authlimit

import (
	"net/http"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	t.Parallel()
	trusted, err := ParseTrustedProxies(" 10.0.0.0/8, 192.168.1.4 ,fd00::/8")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"the peer", "198.51.100.7:5000", nil, trusted, "198.51.100.7"},
		{"an untrusted peer's header is ignored", "198.51.100.7:5000", []string{"203.0.113.1"}, trusted, "198.51.100.7"},
		{"no trusted proxies: the header is ignored", "10.0.0.2:5000", []string{"203.0.113.1"}, nil, "10.0.0.2"},
		{"through a trusted proxy", "10.0.0.2:5000", []string{"203.0.113.1"}, trusted, "203.0.113.1"},
		{"a trusted proxy without the header", "10.0.0.2:5000", nil, trusted, "10.0.0.2"},
		{"the client's own claims on the left are not believed", "10.0.0.2:5000", []string{"1.1.1.1, 203.0.113.1"}, trusted, "203.0.113.1"},
		{"two trusted proxies", "192.168.1.4:80", []string{"1.1.1.1, 203.0.113.1, 10.9.9.9"}, trusted, "203.0.113.1"},
		{"several header lines read as one list", "10.0.0.2:5000", []string{"1.1.1.1", "203.0.113.1, 10.1.1.1"}, trusted, "203.0.113.1"},
		{"hops with ports", "10.0.0.2:5000", []string{"203.0.113.1:443"}, trusted, "203.0.113.1"},
		{"an IPv6 hop", "[fd00::1]:5000", []string{"[2001:db8::5]:443"}, trusted, "2001:db8::5"},
		{"all hops trusted: the leftmost", "10.0.0.2:5000", []string{"10.3.3.3, 10.2.2.2"}, trusted, "10.3.3.3"},
		{"garbage from a trusted proxy: the last sure hop", "10.0.0.2:5000", []string{"203.0.113.1, garbage"}, trusted, "10.0.0.2"},
		{"an IPv4-mapped peer", "[::ffff:198.51.100.7]:5000", nil, trusted, "198.51.100.7"},
		{"an unreadable peer", "@", nil, trusted, "invalid IP"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://x/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientAddr(r, tt.trusted).String(); got != tt.want {
				t.Errorf("client %s, want %s", got, tt.want)
			}
		})
	}
}

func TestClientKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"198.51.100.7":         "198.51.100.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::/64",
		"2001:db8:1:3::1":      "2001:db8:1:3::/64",
	} {
		if got := clientKey(netip.MustParseAddr(in)); got != want {
			t.Errorf("clientKey(%s) = %s, want %s", in, got, want)
		}
	}
	if got := clientKey(netip.Addr{}); got != "unknown" {
		t.Errorf("clientKey(zero) = %s", got)
	}
}

func TestParseTrustedProxies(t *testing.T) {
	t.Parallel()
	got, err := ParseTrustedProxies("10.1.2.3/8,::ffff:192.168.1.1,")
	if err != nil || len(got) != 2 || got[0].String() != "10.0.0.0/8" || got[1].String() != "192.168.1.1/32" {
		t.Fatalf("parsed %v, %v", got, err)
	}
	for _, bad := range []string{"proxy.internal", "10.0.0.0/33", "1.2.3"} {
		if _, err := ParseTrustedProxies(bad); err == nil {
			t.Errorf("%q was accepted", bad)
		}
	}
}

package source

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"
)

// TestGuardRefusesResolvedAddresses proves the check runs on the address the
// dialer connects to: every host name here passes Check (it is just a name)
// and resolves, through a fake DNS server, to a blocked address. The port is
// a live loopback server's, so a guard that let 127.0.0.1 through would get
// a 200 instead of an error.
func TestGuardRefusesResolvedAddresses(t *testing.T) {
	t.Parallel()
	srv, port := serve(t, serveBytes(pngFile(t), "", true))
	_ = srv
	records := map[string][]netip.Addr{
		"loopback.test":    addrs("127.0.0.1"),
		"loopback6.test":   addrs("::1"),
		"mapped.test":      addrs("::ffff:127.0.0.1"),
		"metadata.test":    addrs("169.254.169.254"),
		"private10.test":   addrs("10.1.2.3"),
		"private192.test":  addrs("192.168.1.10"),
		"private172.test":  addrs("172.20.0.5"),
		"cgnat.test":       addrs("100.64.0.1"),
		"unspecified.test": addrs("0.0.0.0"),
		"ula.test":         addrs("fd00::1"),
		"linklocal6.test":  addrs("fe80::1"),
		"multicast.test":   addrs("224.0.0.1"),
		"broadcast.test":   addrs("255.255.255.255"),
		"nat64.test":       addrs("64:ff9b::7f00:1"),
		"both.test":        addrs("127.0.0.1", "::1"),
	}
	o := mustNew(t, Config{Resolver: fakeResolver(records), Timeout: 5 * time.Second})
	for name, want := range records {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			src := "http://" + name + ":" + port + "/a.png"
			if err := o.Check(src); err != nil {
				t.Fatalf("Check(%s) = %v; a host name must pass Check and be judged at dial time", src, err)
			}
			m, err := o.Open(context.Background(), src, Hint{})
			if err == nil {
				m.Close()
				t.Fatalf("Open(%s) succeeded; want the address refused", src)
			}
			e := asError(t, err)
			if !e.Permanent || !errors.Is(err, errNotPublic) {
				t.Fatalf("Open(%s) = %v (permanent %v); want a permanent refused-address error", src, err, e.Permanent)
			}
			msg := err.Error()
			for _, s := range []string{"not a public address", "ALLOWED_SOURCE_HOSTS", name} {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not mention %q", msg, s)
				}
			}
			mentioned := false
			for _, a := range want {
				mentioned = mentioned || strings.Contains(msg, " "+a.Unmap().String()+",")
			}
			if !mentioned {
				t.Errorf("error %q does not name the refused address (one of %v)", msg, want)
			}
		})
	}
}

func TestCheckRefusesLiteralAddresses(t *testing.T) {
	t.Parallel()
	o := mustNew(t, Config{})
	for _, src := range []string{
		"http://127.0.0.1/a.jpg",
		"http://127.1.2.3:8080/a.jpg",
		"http://[::1]/a.jpg",
		"http://[::ffff:127.0.0.1]/a.jpg",
		"http://[::ffff:7f00:1]/a.jpg",
		"http://169.254.169.254/latest/meta-data/",
		"http://10.0.0.1/a.jpg",
		"http://192.168.0.1/a.jpg",
		"http://172.16.3.4/a.jpg",
		"http://100.64.0.1/a.jpg",
		"http://0.0.0.0/a.jpg",
		"https://[fd00::1]/a.jpg",
		"https://[fe80::1%25eth0]/a.jpg",
		"http://[64:ff9b::a9fe:a9fe]/",
		"http://localhost/a.jpg",
		"http://LOCALHOST./a.jpg",
		"http://media.localhost:9000/a.jpg",
	} {
		err := o.Check(src)
		if err == nil || !IsPermanent(err) || !errors.Is(err, errNotPublic) {
			t.Errorf("Check(%s) = %v; want a permanent refused-address error", src, err)
			continue
		}
		if !strings.Contains(err.Error(), "ALLOWED_SOURCE_HOSTS") {
			t.Errorf("Check(%s) = %q; the error must say how to allow the host", src, err)
		}
	}
}

// TestGuardedDialer exercises the dialer on its own, with no Check in front,
// so that the dial-time check is shown to stand by itself.
func TestGuardedDialer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	addr := ln.Addr().String()
	_, port, _ := net.SplitHostPort(addr)

	tests := []struct {
		allowed []string
		address string
		ok      bool
	}{
		{nil, addr, false},
		{[]string{"127.0.0.1"}, addr, true},
		{[]string{"localhost"}, addr, false}, // allowing a name does not allow its address
		{[]string{"localhost"}, "localhost:" + port, true},
		{[]string{"127.0.0.1"}, "localhost:" + port, false}, // nor the other way round
		{nil, "localhost:" + port, false},
	}
	for _, tt := range tests {
		l := allowlist{}
		for _, h := range tt.allowed {
			l[canonHost(h)] = true
		}
		d := &guardedDialer{allowed: l}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := d.DialContext(ctx, "tcp", tt.address)
		cancel()
		if err == nil {
			c.Close()
		}
		switch {
		case tt.ok && err != nil:
			t.Errorf("allowed %v, dial %s: %v; want connected", tt.allowed, tt.address, err)
		case !tt.ok && !errors.Is(err, errNotPublic):
			t.Errorf("allowed %v, dial %s: %v; want refused", tt.allowed, tt.address, err)
		}
	}
}

func TestAllowlistLetsLoopbackThrough(t *testing.T) {
	t.Parallel()
	body := pngFile(t)
	_, port := serve(t, serveBytes(body, "", true))
	res := fakeResolver(map[string][]netip.Addr{
		"media.internal": addrs("127.0.0.1"),
		"other.internal": addrs("127.0.0.1"),
	})
	tests := []struct {
		allowed []string
		host    string
		ok      bool
	}{
		{nil, "127.0.0.1", false},
		{[]string{"127.0.0.1"}, "127.0.0.1", true},
		{[]string{" 127.0.0.1 "}, "127.0.0.1", true},
		{[]string{"media.internal"}, "media.internal", true},
		{[]string{"Media.Internal."}, "media.internal", true},
		{[]string{"media.internal"}, "MEDIA.internal", true},
		{[]string{"media.internal"}, "other.internal", false},
		{[]string{"127.0.0.1"}, "other.internal", false},
	}
	for _, tt := range tests {
		o := mustNew(t, Config{AllowedHosts: tt.allowed, Resolver: res})
		src := "http://" + tt.host + ":" + port + "/photo.png"
		m, err := o.Open(context.Background(), src, Hint{})
		if !tt.ok {
			if err == nil {
				m.Close()
			}
			if !errors.Is(err, errNotPublic) {
				t.Errorf("allowed %q, Open(%s) = %v; want refused", tt.allowed, src, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("allowed %q, Open(%s): %v", tt.allowed, src, err)
			continue
		}
		if got := readAll(t, m); string(got) != string(body) {
			t.Errorf("allowed %q, Open(%s) read %d bytes, want %d", tt.allowed, src, len(got), len(body))
		}
		m.Close()
	}
}

func TestAllowlistIPv6Loopback(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp6", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	srv := &http.Server{Handler: serveBytes([]byte("GIF89a-not-really"), "", true)}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	src := "http://" + ln.Addr().String() + "/x.gif"

	if _, err := mustNew(t, Config{}).Open(context.Background(), src, Hint{}); !errors.Is(err, errNotPublic) {
		t.Fatalf("Open(%s) without allowlist = %v; want refused", src, err)
	}
	for _, entry := range []string{"::1", "[::1]", "0:0:0:0:0:0:0:1"} {
		m, err := mustNew(t, Config{AllowedHosts: []string{entry}}).Open(context.Background(), src, Hint{})
		if err != nil {
			t.Errorf("AllowedHosts %q: Open(%s): %v", entry, src, err)
			continue
		}
		m.Close()
	}
}

func TestNewRejectsBadAllowedHosts(t *testing.T) {
	t.Parallel()
	for _, entry := range []string{"10.0.0.0/8", "https://media.internal", "media.internal:8080", "*.internal", "user@host"} {
		if _, err := New(Config{AllowedHosts: []string{entry}}); err == nil {
			t.Errorf("New accepted ALLOWED_SOURCE_HOSTS entry %q", entry)
		}
	}
	for _, entry := range []string{"media.internal", "10.0.0.5", "::1", "[fd00::5]", ""} {
		if _, err := New(Config{AllowedHosts: []string{entry}}); err != nil {
			t.Errorf("New refused ALLOWED_SOURCE_HOSTS entry %q: %v", entry, err)
		}
	}
}

func TestNewDefaults(t *testing.T) {
	t.Parallel()
	o := mustNew(t, Config{})
	if o.maxRedirects != 5 || o.maxSpool != 2<<30 || o.timeout != 30*time.Second || o.spoolDir != os.TempDir() {
		t.Errorf("defaults: redirects %d, spool %d, timeout %v, dir %q", o.maxRedirects, o.maxSpool, o.timeout, o.spoolDir)
	}
	tr, ok := o.client.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("transport is %T", o.client.Transport)
	}
	// HTTP_PROXY would send every request to a proxy that dials for us,
	// past the guard.
	if tr.Proxy != nil {
		t.Error("the guarded transport takes its proxy from the environment")
	}
	if tr.DialContext == nil || tr.DialTLSContext != nil {
		t.Error("the guarded transport has a dial path that skips the guard")
	}
	if o := mustNew(t, Config{MaxRedirects: -1}); o.maxRedirects != 0 {
		t.Errorf("MaxRedirects -1 gives %d, want 0", o.maxRedirects)
	}
}

// TestCheckRefusesNumericSpellings: the IPv4 spellings inet_aton and
// browsers accept are refused at enqueue, permanently, so they are never
// queued and retried as if the failure were passing.
func TestCheckRefusesNumericSpellings(t *testing.T) {
	t.Parallel()
	o := mustNew(t, Config{})
	tests := []struct {
		host       string
		notPublic  bool   // refused as a private address (else as a bad source)
		wantInText string // in the error text
	}{
		{"2130706433", true, "127.0.0.1"},
		{"127.1", true, "127.0.0.1"},
		{"127.0.1", true, "127.0.0.1"},
		{"0x7f000001", true, "127.0.0.1"},
		{"0X7F.1", true, "127.0.0.1"},
		{"017700000001", true, "127.0.0.1"},
		{"0177.0.0.1", true, "127.0.0.1"},
		{"2130706433.", true, "127.0.0.1"},
		{"[::ffff:127.0.0.1]", true, "127.0.0.1"},
		{"0xa9fea9fe", true, "169.254.169.254"},
		{"167772161", true, "10.0.0.1"},
		{"0", true, "0.0.0.0"},
		{"134744072", false, "write it as 8.8.8.8"},
		{"0x08.0x08.0x08.0x08", false, "write it as 8.8.8.8"},
		{"4294967296", false, "neither a host name nor an IPv4 address"},
		{"1.2.3.4.5", false, "neither a host name nor an IPv4 address"},
		{"09.1.1.1", false, "neither a host name nor an IPv4 address"},
		{"media.256", false, "neither a host name nor an IPv4 address"},
	}
	for _, tt := range tests {
		t.Run(tt.host, func(t *testing.T) {
			t.Parallel()
			src := "http://" + tt.host + "/a.jpg"
			err := o.Check(src)
			if err == nil || !IsPermanent(err) {
				t.Fatalf("Check(%s) = %v; want a permanent refusal", src, err)
			}
			if got := errors.Is(err, errNotPublic); got != tt.notPublic {
				t.Errorf("Check(%s) = %v; refused as not public: %v, want %v", src, err, got, tt.notPublic)
			}
			if !strings.Contains(err.Error(), tt.wantInText) {
				t.Errorf("Check(%s) = %q; want it to say %q", src, err, tt.wantInText)
			}
			_, openErr := o.Open(context.Background(), src, Hint{})
			if openErr == nil || !IsPermanent(openErr) {
				t.Errorf("Open(%s) = %v; want the same permanent refusal", src, openErr)
			}
		})
	}
	// Names that merely contain digits stay names.
	for _, host := range []string{"123.example", "0x.example", "media1.example", "1example.com"} {
		if err := o.Check("https://" + host + "/a.jpg"); err != nil {
			t.Errorf("Check(%s) = %v; want it accepted as a name", host, err)
		}
	}
}

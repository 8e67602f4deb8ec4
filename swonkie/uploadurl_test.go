package swonkie_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mediaflow/mediaflow/swonkie"
)

func TestUploadURLCheck(t *testing.T) {
	t.Parallel()
	dns := map[string][]string{
		"blob.core.windows.net": {"20.60.1.2"},
		"internal.example.com":  {"10.0.0.9"},
		"mixed.example.com":     {"20.60.1.2", "127.0.0.1"},
		"metadata.example.com":  {"169.254.169.254"},
		"lan-storage.local":     {"192.168.1.20"},
		"v6.example.com":        {"2001:db8::1", "fe80::1"},
		"cgnat.example.com":     {"100.64.3.4"},
	}
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		ips, ok := dns[host]
		if !ok {
			return nil, errors.New("no such host")
		}
		var out []netip.Addr
		for _, ip := range ips {
			out = append(out, netip.MustParseAddr(ip))
		}
		return out, nil
	}
	cases := []struct {
		name, base, url string
		allowed         []string
		// want: "" accepted, "refused" an UploadURLError, "transient"
		// a resolution failure.
		want string
	}{
		{"public https", "", "https://blob.core.windows.net/c/b?sig=x", nil, ""},
		{"public literal", "", "https://20.60.1.2/c/b", nil, ""},
		{"http against https base", "", "http://blob.core.windows.net/c/b", nil, "refused"},
		{"http against http base", "http://127.0.0.1:1/v2", "http://blob.core.windows.net/c/b", nil, ""},
		{"other scheme", "", "ftp://blob.core.windows.net/c/b", nil, "refused"},
		{"relative", "", "/c/b", nil, "refused"},
		{"empty", "", "", nil, "refused"},
		{"user info", "", "https://user:pw@blob.core.windows.net/c/b", nil, "refused"},
		{"user only", "", "https://user@blob.core.windows.net/c/b", nil, "refused"},
		{"loopback literal", "", "https://127.0.0.1/c/b", nil, "refused"},
		{"loopback v6", "", "https://[::1]/c/b", nil, "refused"},
		{"mapped loopback", "", "https://[::ffff:127.0.0.1]/c/b", nil, "refused"},
		{"private literal", "", "https://10.0.0.5/c/b", nil, "refused"},
		{"metadata literal", "", "https://169.254.169.254/latest", nil, "refused"},
		{"unspecified", "", "https://0.0.0.0/c", nil, "refused"},
		{"decimal spelling", "", "https://2130706433/c", nil, "refused"},
		{"short spelling", "", "https://127.1/c", nil, "refused"},
		{"hex spelling", "", "https://0x7f000001/c", nil, "refused"},
		{"name to private", "", "https://internal.example.com/c", nil, "refused"},
		{"name to mixed", "", "https://mixed.example.com/c", nil, "refused"},
		{"name to link-local", "", "https://metadata.example.com/c", nil, "refused"},
		{"name to v6 link-local", "", "https://v6.example.com/c", nil, "refused"},
		{"name to cgnat", "", "https://cgnat.example.com/c", nil, "refused"},
		{"allowed private host", "", "https://lan-storage.local/c", []string{"LAN-storage.local"}, ""},
		{"allowed private literal", "", "https://10.0.0.5:10000/c", []string{"10.0.0.5"}, ""},
		{"allowed host other scheme", "", "http://lan-storage.local/c", []string{"lan-storage.local"}, "refused"},
		{"base host", "http://127.0.0.1:8080/v2", "http://127.0.0.1:9999/blob", nil, ""},
		{"base host is not everything", "http://127.0.0.1:8080/v2", "http://127.0.0.2/blob", nil, "refused"},
		{"unresolvable", "", "https://nowhere.example.com/c", nil, "transient"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := tc.base
			if base == "" {
				base = "https://api.swonkie.dev/v2"
			}
			c := newClient(t, base, func(cfg *swonkie.Config) {
				cfg.AllowedUploadHosts = tc.allowed
				cfg.LookupHost = lookup
			})
			_, err := c.CheckUploadURL(context.Background(), "TWVkaWE=", tc.url)
			var ue *swonkie.UploadURLError
			switch tc.want {
			case "":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case "refused":
				if !errors.As(err, &ue) || ue.MediaID != "TWVkaWE=" || !swonkie.IsPermanent(err) || swonkie.IsTransient(err) {
					t.Fatalf("got %v, want a permanent UploadURLError naming the media", err)
				}
				if !strings.Contains(err.Error(), "media TWVkaWE=") {
					t.Fatalf("error does not name the media: %v", err)
				}
				if strings.Contains(err.Error(), "pw") || strings.Contains(err.Error(), "/latest") {
					t.Fatalf("error holds parts of the URL: %v", err)
				}
			case "transient":
				if err == nil || errors.As(err, &ue) || !swonkie.IsTransient(err) {
					t.Fatalf("got %v, want a transient resolution error", err)
				}
			}
		})
	}
}

// TestRefusedUploadSendsNothing: a refused URL gets no request at all, and
// Upload names the media.
func TestRefusedUploadSendsNothing(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	t.Cleanup(storage.Close)
	// The API's host is a public name, so the storage on 127.0.0.1 is
	// neither the base host nor allowed.
	c := newClient(t, "http://api.swonkie.dev/v2")
	m := &swonkie.CreatedMedia{MediaID: "TWVkaWFJZA==", UploadURL: storage.URL + "/blob?sig=abcdefgh12"}
	err := c.Upload(context.Background(), m, strings.NewReader("abc"), 3, "image/png")
	var ue *swonkie.UploadURLError
	if !errors.As(err, &ue) || ue.MediaID != m.MediaID || !swonkie.IsPermanent(err) {
		t.Fatalf("upload to a loopback storage: %v", err)
	}
	assertClean(t, "refused upload", err, "abcdefgh12")
	if got.Load() != 0 {
		t.Fatalf("storage got %d requests", got.Load())
	}
}

// TestUploadHostIsCheckedWhenDialled: a name that resolves to a public
// address when the URL is checked and to the worker's own network when
// the upload connects (DNS rebinding) is refused at the connection, as
// permanently as a URL refused before it, and storage gets nothing. An
// allowed host is not held to the check.
func TestUploadHostIsCheckedWhenDialled(t *testing.T) {
	t.Parallel()
	var got atomic.Int64
	storage := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got.Add(1) }))
	t.Cleanup(storage.Close)
	port := storage.Listener.Addr().(*net.TCPAddr).Port
	var lookups atomic.Int64
	rebinding := func(_ context.Context, host string) ([]netip.Addr, error) {
		if lookups.Add(1) == 1 {
			return []netip.Addr{netip.MustParseAddr("20.60.1.2")}, nil
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	c := newClient(t, "http://api.swonkie.dev/v2", func(cfg *swonkie.Config) { cfg.LookupHost = rebinding })
	m := &swonkie.CreatedMedia{MediaID: "TWVkaWFJZA==", UploadURL: fmt.Sprintf("http://storage.rebind.example:%d/blob?sig=abcdefgh12", port)}
	err := c.Upload(context.Background(), m, strings.NewReader("abc"), 3, "image/png")
	var ue *swonkie.UploadURLError
	if !errors.As(err, &ue) || ue.MediaID != m.MediaID || !swonkie.IsPermanent(err) || !strings.Contains(err.Error(), "127.0.0.1 when connecting") {
		t.Fatalf("upload to a rebinding host: %v; want a permanent UploadURLError naming the media and the address dialled", err)
	}
	assertClean(t, "refused upload", err, "abcdefgh12")
	if got.Load() != 0 || lookups.Load() != 2 {
		t.Fatalf("storage got %d requests after %d look-ups; want none after 2 (the check, the dial)", got.Load(), lookups.Load())
	}

	allowed := newClient(t, "http://api.swonkie.dev/v2", func(cfg *swonkie.Config) {
		cfg.LookupHost = rebinding
		cfg.AllowedUploadHosts = []string{"localhost"}
	})
	m.UploadURL = fmt.Sprintf("http://localhost:%d/blob", port)
	if err := allowed.Upload(context.Background(), m, strings.NewReader("abc"), 3, "image/png"); err != nil || got.Load() != 1 {
		t.Fatalf("upload to an allowed host: %v, storage got %d requests", err, got.Load())
	}
}

package source

import (
	"context"
	"strings"
	"testing"
)

// TestCheckOpenAgree: whatever Check refuses, Open refuses with the same
// message and permanence (so an enqueue-time refusal and a run-time failure
// read alike), and whatever Check accepts, Open does not refuse for a reason
// Check could have seen. Only I/O-dependent failures may differ.
func TestCheckOpenAgree(t *testing.T) {
	t.Parallel()
	root, _, _ := mediaTree(t)
	_, port := serve(t, serveBytes(pngFile(t), "", true))
	srvURL := "http://127.0.0.1:" + port
	o := mustNew(t, Config{Root: root, AllowedHosts: []string{"127.0.0.1", "localhost"}})

	tests := []struct {
		src    string
		openOK bool // when Check accepts: whether Open succeeds too
	}{
		{"a.png", true},
		{root + "/sub/b.png", true},
		{"file://" + root + "/a.png", true},
		{srvURL + "/a.png", true},
		{srvURL + "/a.png?sig=abc#frag", true},
		{"http://localhost:" + port + "/a.png", true}, // allowlisted name
		{"HTTP://127.0.0.1:" + port + "/a.png", true},
		{"link-out", false}, // escape seen only by os.Root
		{"missing.png", false},
		{"sub", false},

		{"", false},
		{"../outside.jpg", false},
		{"/etc/passwd", false},
		{"file://server/share/a.png", false},
		{"file:relative.png", false},
		{"ftp://example.com/a.png", false},
		{"javascript:alert(1)", false},
		{"http://", false},
		{"http:///a.png", false},
		{"http:a.png", false},
		{"https://host:0/a.png", false},
		{"https://host:65536/a.png", false},
		{"https://ho%zzst/a.png", false},
		{"http://10.0.0.1/a.png", false},
		{"http://[::1]/a.png", false},
		{"http://app.localhost/a.png", false},
		{"http://example.com/a\x00.png", false},
	}
	for _, tt := range tests {
		checkErr := o.Check(tt.src)
		m, openErr := o.Open(context.Background(), tt.src, Hint{})
		if openErr == nil {
			m.Close()
		}
		if checkErr == nil {
			if (openErr == nil) != tt.openOK {
				t.Errorf("%q: Check accepted; Open = %v, want success %v", tt.src, openErr, tt.openOK)
			}
			continue
		}
		if openErr == nil {
			t.Errorf("%q: Check refused (%v) but Open succeeded", tt.src, checkErr)
			continue
		}
		c, op := asError(t, checkErr), asError(t, openErr)
		if c.Op != "check" || op.Op != "open" {
			t.Errorf("%q: ops %q and %q", tt.src, c.Op, op.Op)
		}
		cMsg := strings.TrimPrefix(c.Error(), "check ")
		oMsg := strings.TrimPrefix(op.Error(), "open ")
		if cMsg != oMsg || c.Permanent != op.Permanent || !c.Permanent {
			t.Errorf("%q: Check %q (permanent %v) and Open %q (permanent %v) disagree", tt.src, checkErr, c.Permanent, openErr, op.Permanent)
		}
	}
}

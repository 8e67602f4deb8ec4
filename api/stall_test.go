package api

import (
	"bufio"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestStalledBodyIsAnswered: a request that promises a body and never
// sends it is answered within the body deadline, whether or not it is
// authenticated, on every route. Before, the deadline started only after
// authentication, and net/http waited for the body before sending the 401.
func TestStalledBodyIsAnswered(t *testing.T) {
	t.Parallel()
	const deadline = 300 * time.Millisecond
	w := newWorld(t, worldOptions{bodyTimeout: deadline})
	addr := w.srv.Listener.Addr().String()
	tests := []struct {
		name  string
		head  string
		codes []int
	}{
		{"no token", "POST /v1/pipelines HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", []int{401}},
		{"wrong token", "POST /v1/pipelines HTTP/1.1\r\nAuthorization: Bearer wrong-token-0123456789\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", []int{401}},
		{"no token, chunked", "POST /v1/pipelines HTTP/1.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n", []int{401}},
		{"no token, unknown route", "PUT /v1/nothing HTTP/1.1\r\nContent-Length: 100\r\n", []int{401}},
		{"public route with a body", "GET /v1/openapi.yaml HTTP/1.1\r\nContent-Length: 100\r\n", []int{200, 408}},
		{"good token", "POST /v1/pipelines HTTP/1.1\r\nAuthorization: Bearer " + tokenA + "\r\nContent-Type: application/json\r\nContent-Length: 100\r\n", []int{408}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Write([]byte(tt.head + "Host: api\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// Generous slack over the deadline; without the fix there is no
			// answer at all until the client gives up.
			_ = c.SetReadDeadline(time.Now().Add(deadline + 2*time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				t.Fatalf("no answer within %s: %v", deadline+2*time.Second, err)
			}
			resp.Body.Close()
			ok := false
			for _, code := range tt.codes {
				ok = ok || resp.StatusCode == code
			}
			if !ok {
				t.Errorf("status %d, want one of %v", resp.StatusCode, tt.codes)
			}
			t.Logf("%d after %s", resp.StatusCode, time.Since(start).Round(time.Millisecond))
			if resp.StatusCode == 401 && !resp.Close {
				t.Error("a 401 to an unread body must close the connection")
			}
		})
	}
}

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/logbuf"
	"github.com/mediaflow/mediaflow/internal/version"
)

func TestServesLogsAndStops(t *testing.T) {
	const id, key = "cmd-test-id-XYZ", "cmd-test-key-QWE"
	var logs logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-api-id", id, "-api-key", key, "-seed", "9",
			"-processing-delay", "0s", "-faults", `{"GET /labels":{"rateLimit":1,"retryAfter":4}}`}, io.Discard, &logs, func(a string) { addrc <- a })
	}()
	var addr string
	select {
	case addr = <-addrc:
	case err := <-done:
		t.Fatalf("run ended: %v", err)
	}
	base := "http://" + addr
	call := func(method, path, body string, auth bool) *http.Response {
		t.Helper()
		r, _ := http.NewRequest(method, path, strings.NewReader(body))
		if !strings.HasPrefix(path, "http") {
			r.URL, _ = url.Parse(base + path)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/json")
		}
		if auth {
			r.Header.Set("X-API-ID", id)
			r.Header.Set("X-API-KEY", key)
		}
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}

	if res := call("GET", "/v2/profiles", "", false); res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d", res.StatusCode)
	}
	res := call("POST", "/v2/media", `{"name":"a.png","destinationType":"POST_MEDIA"}`, true)
	var created struct{ MediaID, UploadURL string }
	if err := json.NewDecoder(res.Body).Decode(&created); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("create media: %d, %v", res.StatusCode, err)
	}
	up, _ := http.NewRequest("PUT", created.UploadURL, strings.NewReader("\x89PNG\r\n\x1a\nxxxx"))
	up.Header.Set("x-ms-blob-type", "BlockBlob")
	if res, err := http.DefaultClient.Do(up); err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("upload: %v %v", res, err)
	}
	if res := call("GET", "/v2/labels", "", true); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") != "4" {
		t.Fatalf("fault plan not applied: %d", res.StatusCode)
	}
	if res := call("POST", "/_sandbox/clock/advance?by=16m", "", true); res.StatusCode != http.StatusOK {
		t.Fatalf("advance: %d", res.StatusCode)
	}
	res = call("GET", "/_sandbox/stats", "", true)
	raw, _ := io.ReadAll(res.Body)
	if !strings.Contains(string(raw), `"created":1`) {
		t.Fatalf("stats: %s", raw)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("run after shutdown: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no graceful shutdown")
	}

	out := logs.String()
	sig := func() string { u, _ := url.Parse(created.UploadURL); return u.Query().Get("sig") }()
	for _, secret := range []string{id, key, sig, created.MediaID, url.PathEscape(created.MediaID)} {
		if strings.Contains(out, secret) {
			t.Fatalf("log holds %q:\n%s", secret, out)
		}
	}
	for _, want := range []string{"method=POST endpoint=/media status=201", "method=PUT endpoint={uploadUrl} status=201",
		"endpoint=/labels status=429 ", "fault=rateLimit", "endpoint=/profiles status=401", "shutting down"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "demo credential") {
		t.Error("warned about the demo credential that was not used")
	}
}

func TestFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-faults", `{"POST /nothing":{}}`},
		{"-error-rate", "2"},
		{"-processing-delay", "-1s"},
		{"-addr", "256.0.0.1:1"},
		{"extra"},
		{"-no-such-flag"},
		{"-media-id-field", "media_id"},
		{"-list-entries", "all"},
		{"-briefing", "sometimes"},
	} {
		var logs logbuf.Buffer
		if err := run(context.Background(), args, io.Discard, &logs, nil); err == nil {
			t.Errorf("run %q succeeded", args)
		}
	}
	// The defaults serve with the demo credential and say so.
	var logs logbuf.Buffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0"}, io.Discard, &logs, func(string) { cancel() })
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "demo credential") {
		t.Fatalf("no warning about the demo credential:\n%s", logs.String())
	}
}

// TestMain lets TestVersionExits run this test binary as the command.
func TestMain(m *testing.M) {
	if os.Getenv("SWONKIE_SANDBOX_RUN_MAIN") == "1" {
		os.Args = append([]string{"swonkie-sandbox"}, strings.Fields(os.Getenv("SWONKIE_SANDBOX_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func TestVersionExits(t *testing.T) {
	t.Parallel()
	want := version.String("swonkie-sandbox") + "\n"
	tests := []struct {
		args     string
		wantCode int
		wantOut  string
	}{
		{"--version", 0, want},
		{"-version", 0, want},
		{"-version -addr 127.0.0.1:0", 0, want},
		{"-no-such-flag", 2, ""},
	}
	for _, tt := range tests {
		t.Run(tt.args, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), "SWONKIE_SANDBOX_RUN_MAIN=1", "SWONKIE_SANDBOX_ARGS="+tt.args)
			var stdout, stderr strings.Builder
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if code != tt.wantCode || stdout.String() != tt.wantOut {
				t.Fatalf("exit %d, stdout %q, stderr %q; want exit %d, stdout %q", code, stdout.String(), stderr.String(), tt.wantCode, tt.wantOut)
			}
			if tt.wantCode == 0 && stderr.Len() != 0 {
				t.Fatalf("-version logged %q", stderr.String())
			}
		})
	}
}

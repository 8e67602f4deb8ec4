package accesslog

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

func TestEventNamesTheRouteNeverThePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, pattern, url string
		status             int
		wantRoute          string
		wantLevel          string
	}{
		{"matched", "GET /v1/pipelines/{id}", "/v1/pipelines/abc?cursor=secret", 200, "/v1/pipelines/{id}", "info"},
		{"unmatched", "", "/nowhere?token=secret", 404, "unmatched", "info"},
		{"catch-all", "/", "/x", 401, "unmatched", "info"},
		{"server error", "POST /v1/pipelines", "/v1/pipelines", 503, "/v1/pipelines", "error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			log := zerolog.New(&buf)
			r := httptest.NewRequest(http.MethodGet, tt.url, nil)
			r.Pattern = tt.pattern
			rec := &Recorder{ResponseWriter: httptest.NewRecorder()}
			rec.WriteHeader(tt.status)
			_, _ = rec.Write([]byte("hello"))
			Event(log, r, rec, time.Now().Add(-1500*time.Microsecond)).Msg("request")
			var line map[string]any
			if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
				t.Fatal(err)
			}
			if line["route"] != tt.wantRoute || line["status"] != float64(tt.status) || line["bytes"] != float64(5) || line["level"] != tt.wantLevel {
				t.Errorf("line %v", line)
			}
			if ms, ok := line["duration_ms"].(float64); !ok || ms < 1.5 || ms > 1000 {
				t.Errorf("duration_ms %v", line["duration_ms"])
			}
			if bytes.Contains(buf.Bytes(), []byte("secret")) || bytes.Contains(buf.Bytes(), []byte("abc")) {
				t.Errorf("the line shows the path or query: %s", buf.String())
			}
		})
	}
}

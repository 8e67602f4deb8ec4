package api

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// logged writes one access-log line per request. It logs the route
// template ("/v1/pipelines/{id}"), not the path, so that lines group by
// route, and never the query string or headers: a cursor is harmless, but
// a client that puts a credential in a URL should not find it in the logs.
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		slot := -1
		// The mux sets Pattern on the request it is handed, so keep that one.
		inner := r.WithContext(context.WithValue(r.Context(), slotSink{}, &slot))
		next.ServeHTTP(rec, inner)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		// Patterns read "GET /v1/pipelines/{id}"; the method is logged apart.
		_, route, _ := strings.Cut(inner.Pattern, " ")
		if route == "" {
			route = inner.Pattern
		}
		if route == "" || route == "/" {
			route = "unmatched"
		}
		ev := h.log.Info()
		if rec.status >= 500 {
			ev = h.log.Error()
		}
		ev = ev.Str("method", r.Method).Str("route", route).Int("status", rec.status).
			Dur("duration", time.Since(start)).Int64("bytes", rec.bytes).Str("remote", r.RemoteAddr)
		if slot >= 0 {
			// 1-based, like the position in API_TOKENS people read.
			ev = ev.Int("token", slot+1)
		}
		ev.Msg("api request")
	})
}

// statusRecorder remembers what a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

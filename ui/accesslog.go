package ui

import (
	"net/http"
	"strings"
	"time"
)

// logged writes one access-log line per request, naming the route
// template, never the query (a search holds idempotency keys) nor the
// cookie.
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		_, route, _ := strings.Cut(r.Pattern, " ")
		if route == "" {
			route = "unmatched"
		}
		ev := h.log.Info()
		if rec.status >= 500 {
			ev = h.log.Error()
		}
		ev.Str("method", r.Method).Str("route", route).Int("status", rec.status).
			Dur("duration", time.Since(start)).Str("remote", r.RemoteAddr).Msg("ui request")
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
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
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

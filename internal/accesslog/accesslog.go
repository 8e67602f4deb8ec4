// Package accesslog is the one access-log line the HTTP API and the
// pipelines page write per request: the route template, never the path's
// ids or the query string (a cursor is harmless, but a client that puts a
// credential in a URL must not find it in the logs), nor any header.
package accesslog

import (
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Recorder remembers what a handler answered.
type Recorder struct {
	http.ResponseWriter
	Status int
	Bytes  int64
}

// WriteHeader records the first status.
func (s *Recorder) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write counts the body.
func (s *Recorder) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.Bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the real writer.
func (s *Recorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Route is the route template the mux matched ("/v1/pipelines/{id}"), or
// "unmatched". Patterns read "GET /v1/pipelines/{id}"; the method is logged
// apart.
func Route(r *http.Request) string { return RouteOf(r.Pattern) }

// RouteOf is Route for a mux pattern (what http.ServeMux.Handler returns
// before the request is served).
func RouteOf(pattern string) string {
	_, route, _ := strings.Cut(pattern, " ")
	if route == "" {
		route = pattern
	}
	if route == "" || route == "/" {
		return "unmatched"
	}
	return route
}

// Event starts the line of a request the handler answered through rec:
// method, route, status, duration_ms, bytes and the remote address, at
// error level for a 5xx, bound to the request's context (so a tracing hook
// adds its trace). The caller adds its own fields and sends it.
func Event(log zerolog.Logger, r *http.Request, rec *Recorder, start time.Time) *zerolog.Event {
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	ev := log.Info()
	if rec.Status >= 500 {
		ev = log.Error()
	}
	return ev.Ctx(r.Context()).Str("method", r.Method).Str("route", Route(r)).Int("status", rec.Status).
		Float64("duration_ms", float64(time.Since(start).Microseconds())/1000).
		Int64("bytes", rec.Bytes).Str("remote", r.RemoteAddr)
}

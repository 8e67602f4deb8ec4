package ui

import (
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/internal/accesslog"
)

// logged writes one access-log line per request (internal/accesslog):
// never the query (a search holds idempotency keys) nor the cookie.
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accesslog.Recorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		accesslog.Event(h.log, r, rec, start).Msg("ui request")
	})
}

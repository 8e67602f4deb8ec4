package ui

import (
	"context"
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/internal/accesslog"
)

// logged writes one access-log line per request (internal/accesslog):
// never the query (a search holds idempotency keys) nor the cookie. A
// refused login gets none (see quiet).
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accesslog.Recorder{ResponseWriter: w}
		hush := new(bool)
		r = r.WithContext(context.WithValue(r.Context(), quietKey{}, hush))
		next.ServeHTTP(rec, r)
		if !*hush {
			accesslog.Event(h.log, r, rec, start).Msg("ui request")
		}
	})
}

type quietKey struct{}

// quiet keeps r out of the access log: the authentication guard summarizes
// refused logins instead, so a flood of them cannot fill the log.
func quiet(r *http.Request) {
	if hush, ok := r.Context().Value(quietKey{}).(*bool); ok {
		*hush = true
	}
}

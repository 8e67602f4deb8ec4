package api

import (
	"context"
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/internal/accesslog"
)

// logged writes one access-log line per request (internal/accesslog), with
// the position of the token that authenticated it.
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accesslog.Recorder{ResponseWriter: w}
		slot := -1
		// The mux sets Pattern on the request it is handed, so keep that one.
		inner := r.WithContext(context.WithValue(r.Context(), slotSink{}, &slot))
		next.ServeHTTP(rec, inner)
		ev := accesslog.Event(h.log, inner, rec, start)
		if slot >= 0 {
			// 1-based, like the position in API_TOKENS people read.
			ev = ev.Int("token", slot+1)
		}
		ev.Msg("api request")
	})
}

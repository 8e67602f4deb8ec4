package api

import (
	"context"
	"net/http"
	"time"

	"github.com/mediaflow/mediaflow/internal/accesslog"
)

// logged writes one access-log line per request (internal/accesslog), with
// the position of the token that authenticated it (or its name, for a
// workspaces-file token). Requests refused for
// their credentials get no line of their own: the guard summarizes them,
// so a flood of wrong tokens cannot fill the log.
func (h *Handler) logged(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &accesslog.Recorder{ResponseWriter: w}
		note := &authNote{slot: -1}
		// The mux sets Pattern on the request it is handed, so keep that one.
		inner := r.WithContext(context.WithValue(r.Context(), authNoteKey{}, note))
		next.ServeHTTP(rec, inner)
		if note.refused {
			return
		}
		ev := accesslog.Event(h.log, inner, rec, start)
		switch {
		case note.name != "":
			// A workspaces-file token, by the name the file gives it.
			ev = ev.Str("tokenName", note.name)
		case note.slot >= 0:
			// 1-based, like the position in API_TOKENS people read.
			ev = ev.Int("token", note.slot+1)
		}
		ev.Msg("api request")
	})
}

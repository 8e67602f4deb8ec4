package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/metrics"
)

// opsHandler serves what operators and orchestrators probe: /metrics,
// /healthz (the process answers) and /readyz (Redis answers too).
func opsHandler(m *metrics.Metrics, rc redis.UniversalClient) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if err := rc.Ping(ctx).Err(); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "redis: %v\n", err)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	})
	return mux
}

// serve listens on addr (so a taken port fails the start) and serves h in
// the background.
func serve(addr string, h http.Handler, log zerolog.Logger) (*http.Server, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("addr", addr).Msg("http server stopped")
		}
	}()
	return srv, nil
}

// newLogger builds the process logger: JSON lines, or a console format for
// people.
func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Nop(), fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	out := w
	if format == "console" {
		out = zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(out).Level(lvl).With().Timestamp().Logger(), nil
}

// redactedURL hides a Redis URL's passwords (the sentinels' too).
func redactedURL(raw string) string {
	return redisurl.Redacted(raw)
}

// redisLogger sends go-redis's own messages (dial retries, pool trouble)
// through the worker's logger instead of straight to stderr.
type redisLogger struct{ l zerolog.Logger }

func (r redisLogger) Printf(_ context.Context, format string, v ...any) {
	r.l.Warn().Str("component", "go-redis").Msgf(format, v...)
}

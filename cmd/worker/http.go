package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/metrics"
)

// opsHandler serves what operators and orchestrators probe: /metrics,
// /healthz (the process answers) and /readyz (every check passes).
func opsHandler(m *metrics.Metrics, checks []readyCheck, log zerolog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.Handle("GET /readyz", readyHandler(checks, readyTimeout, log))
	return mux
}

// Limits of the worker's HTTP servers. Each bounds how long a client may
// hold a connection without doing its part, so that connections (and file
// descriptors) are given back. Reading the API's request body has its own,
// shorter deadline (api.DefaultBodyTimeout) inside ReadTimeout.
const (
	serverReadHeaderTimeout = 10 * time.Second
	serverReadTimeout       = 45 * time.Second
	serverWriteTimeout      = 60 * time.Second
	serverIdleTimeout       = 60 * time.Second
)

// DefaultMaxConns is API_MAX_CONNS's default: the connections each server
// holds at once.
const defaultMaxConns = 256

// serve listens on addr (so a taken port fails the start) and serves h in
// the background, holding at most maxConns connections.
func serve(addr string, h http.Handler, maxConns int, log zerolog.Logger) (*http.Server, *connLimiter, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	cl := limitConns(l, maxConns)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: serverReadHeaderTimeout,
		ReadTimeout:       serverReadTimeout,
		WriteTimeout:      serverWriteTimeout,
		IdleTimeout:       serverIdleTimeout,
		ConnState:         cl.connState,
		ErrorLog:          httpErrorLog(log.With().Str("addr", addr).Logger()),
	}
	go func() {
		if err := srv.Serve(cl); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Str("addr", addr).Msg("http server stopped")
		}
	}()
	return srv, cl, nil
}

// httpErrorLog sends net/http's own complaints ("http: TLS handshake
// error", accept errors) through zerolog, so every line the worker writes
// is one the log pipeline can parse.
func httpErrorLog(l zerolog.Logger) *stdlog.Logger {
	return stdlog.New(zerologLines{l.With().Str("component", "http").Logger()}, "", 0)
}

type zerologLines struct{ l zerolog.Logger }

func (z zerologLines) Write(p []byte) (int, error) {
	z.l.Warn().Msg(strings.TrimRight(string(p), "\n"))
	return len(p), nil
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

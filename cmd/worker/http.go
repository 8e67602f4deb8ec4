package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	stdlog "log"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"

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

// listen binds addr, the value of the setting env, before anything
// starts: a taken port stops the start before the worker takes any work,
// and says what to do about it.
func listen(env, addr string) (net.Listener, error) {
	l, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%s %s is in use (another worker on this host?): set %s to a free address, like %s, or %s=off",
			env, addr, env, nextPort(addr), env)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", env, addr, err)
	}
	return l, nil
}

// nextPort is addr with the following port, a likely free one to suggest.
func nextPort(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n >= 65535 {
		return "127.0.0.1:9401"
	}
	return net.JoinHostPort(host, strconv.Itoa(n+1))
}

// serve serves h on l in the background, holding at most maxConns
// connections.
func serve(l net.Listener, h http.Handler, maxConns int, log zerolog.Logger) (*http.Server, *connLimiter) {
	addr := l.Addr().String()
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
	return srv, cl
}

// httpURL is the URL of path on l, for people to open: an address on every
// interface is shown as localhost.
func httpURL(l net.Listener, path string) string {
	host, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		return "http://" + l.Addr().String() + path
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + path
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
// people. With no format given, a person is assumed exactly when w is a
// terminal: log collectors read pipes and files.
func newLogger(level, format string, w io.Writer) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(strings.ToLower(level))
	if err != nil || lvl == zerolog.NoLevel {
		return zerolog.Nop(), fmt.Errorf("log level %q: want debug, info, warn or error", level)
	}
	if format == "" {
		format = "json"
		if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			format = "console"
		}
	}
	out := w
	if format == "console" {
		// The console writer formats in several writes to w: concurrent
		// runs' lines must not interleave (nor race on a buffer a test or
		// an embedding program passes).
		out = zerolog.SyncWriter(zerolog.ConsoleWriter{Out: w, TimeFormat: "15:04:05"})
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

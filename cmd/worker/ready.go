package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// readyCheck is one thing /readyz waits for. Its name is all a prober is
// told when it fails: the error (which may name an address) goes to the log.
type readyCheck struct {
	name  string
	check func(context.Context) error
}

// readyTimeout bounds all checks together: orchestrators probe with short
// timeouts of their own, and a hung dependency must read as "not ready",
// not as a probe that never answers.
const readyTimeout = time.Second

func redisReady(rc redis.UniversalClient) readyCheck {
	return readyCheck{name: "redis", check: func(ctx context.Context) error { return rc.Ping(ctx).Err() }}
}

// readyHandler runs every check at once and answers "ok" or
// "not ready: <names>" within timeout, even if a check ignores its context.
func readyHandler(checks []readyCheck, timeout time.Duration, log zerolog.Logger) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		type result struct {
			i   int
			err error
		}
		results := make(chan result, len(checks)) // buffered: a late check must not block
		for i, c := range checks {
			go func() { results <- result{i, c.check(ctx)} }()
		}
		errs := make([]error, len(checks))
		answered := make([]bool, len(checks))
	wait:
		for range checks {
			select {
			case res := <-results:
				errs[res.i], answered[res.i] = res.err, true
			case <-ctx.Done():
				break wait
			}
		}
		var failed []string
		for i, c := range checks {
			err := errs[i]
			if !answered[i] {
				err = context.DeadlineExceeded
			}
			if err != nil {
				failed = append(failed, c.name)
				log.Warn().Str("check", c.name).Err(err).Msg("readyz: not ready")
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if len(failed) > 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready: "+strings.Join(failed, ", ")+"\n")
			return
		}
		_, _ = io.WriteString(w, "ok\n")
	}
}

// storeReady runs what a worker really needs: one of the store's scripts
// (a Redis Cluster or an ACL that refuses them answers PING all the same)
// and, in a worker, an asynq queue read.
func storeReady(st *stack) readyCheck {
	return readyCheck{name: "store", check: func(ctx context.Context) error {
		if st.worker != nil {
			return st.worker.Ping(ctx)
		}
		return st.client.Ping(ctx)
	}}
}

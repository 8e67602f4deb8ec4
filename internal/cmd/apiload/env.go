package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/api"
	"github.com/mediaflow/mediaflow/authlimit"
	"github.com/mediaflow/mediaflow/internal/redisserver"
	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/tasks"
)

const token = "apiload-token-0123456789abcdef"

// env is what is measured: a private redis-server, a tasks.Client checking
// sources as the worker's does, and the API on a loopback port, wired as
// cmd/worker wires them; plus the HTTP client that drives it.
type env struct {
	dir          string
	redis        *redisserver.Server
	redisVersion string
	redisPID     string
	rc           redis.UniversalClient
	client       *tasks.Client
	srv          *http.Server
	url          string
	http         *http.Client
}

func startEnv(o options) (*env, error) {
	e := &env{}
	var err error
	if e.dir, err = os.MkdirTemp("", "mediaflow-apiload-"); err != nil {
		return nil, err
	}
	if e.redis, err = redisserver.Start(e.dir); err != nil {
		e.close()
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	e.redisVersion = "Redis " + e.redis.Version()
	// The Redis client is made the way cmd/worker makes it from REDIS_URL,
	// so the pool and protocol are the worker's.
	if e.rc, err = redisurl.NewClient(e.redis.URL); err != nil {
		e.close()
		return nil, err
	}
	if e.redisPID, err = redisPID(context.Background(), e.rc); err != nil {
		e.close()
		return nil, err
	}
	sources, err := source.New(source.Config{})
	if err != nil {
		e.close()
		return nil, err
	}
	e.client = tasks.NewClient(e.rc, tasks.WithSources(sources))
	log := zerolog.Nop()
	if o.accessLog {
		log = zerolog.New(io.Discard).Level(zerolog.InfoLevel).With().Timestamp().Logger()
	}
	cfg := api.Config{Tokens: []string{token}, Logger: log}
	if o.authGuard {
		// As the worker: failed authentications counted in Redis, so each
		// request also asks whether its address is held back.
		if cfg.Guard, err = authlimit.New(e.rc, authlimit.Config{PerMinute: authlimit.DefaultPerMinute, Logger: log}); err != nil {
			e.close()
			return nil, err
		}
	}
	h, err := api.New(e.client, cfg)
	if err != nil {
		e.close()
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.close()
		return nil, err
	}
	e.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	e.url = "http://" + l.Addr().String() + "/v1/pipelines"
	e.http = &http.Client{Transport: &http.Transport{
		MaxIdleConns:        o.concurrency,
		MaxIdleConnsPerHost: o.concurrency,
		MaxConnsPerHost:     o.concurrency,
		IdleConnTimeout:     time.Minute,
	}, Timeout: 30 * time.Second}
	return e, nil
}

// reset empties Redis, so each run starts from the same state.
func (e *env) reset(ctx context.Context) error {
	if err := e.rc.FlushAll(ctx).Err(); err != nil {
		return fmt.Errorf("flush redis: %w", err)
	}
	return nil
}

func (e *env) close() {
	if e.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = e.srv.Shutdown(ctx)
		cancel()
	}
	if e.client != nil {
		_ = e.client.Close()
	}
	if e.rc != nil {
		_ = e.rc.Close()
	}
	if e.redis != nil {
		e.redis.Kill()
	}
	if e.dir != "" && strings.Contains(e.dir, "mediaflow-apiload-") {
		_ = os.RemoveAll(e.dir)
	}
}

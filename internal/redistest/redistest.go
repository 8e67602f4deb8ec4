// Package redistest gives each test its own real Redis: a fresh redis-server
// on a free port, or, when REDIS_URL is set, a database of that server that
// no other test (in this or any other test process) holds at the same time.
//
// Tests never skip for want of Redis: when neither works they fail with one
// line that says how to install it.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

// Redis is one test's Redis: its address and database, and a client for it
// that is closed when the test ends.
type Redis struct {
	// URL is a redis:// URL naming the server and the database, in the form
	// REDIS_URL, asynq and the mediaflow binaries accept.
	URL string
	// Addr is host:port.
	Addr string
	// DB is the database number.
	DB int
	// Client is connected to Addr and DB.
	Client *redis.Client

	srv *redisserver.Server // nil when the server is shared through REDIS_URL
}

const installHint = "redistest: no Redis for tests: redis-server is not in PATH and REDIS_URL is unset; " +
	"install Redis 6.2 or newer (Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis) or set REDIS_URL=redis://host:port"

// New returns a Redis for this test only, cleaned up when the test ends.
func New(tb testing.TB) *Redis {
	tb.Helper()
	var (
		r   *Redis
		err error
	)
	if u := os.Getenv("REDIS_URL"); u != "" {
		r, err = claimShared(tb, u)
	} else {
		r, err = startServer(tb)
	}
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// Stop kills the server at once (SIGKILL), for tests of what happens when
// Redis goes away. It fails the test when the server is shared.
func (r *Redis) Stop(tb testing.TB) {
	tb.Helper()
	r.Own(tb)
	r.srv.Kill()
}

// Restart starts a server Stop killed again, on the same port, empty: for
// tests of what happens when Redis comes back. It fails the test when the
// server is shared.
func (r *Redis) Restart(tb testing.TB) {
	tb.Helper()
	r.Own(tb)
	if err := r.srv.Restart(); err != nil {
		tb.Fatal(err)
	}
}

// Own fails the test when the server is shared through REDIS_URL: a test
// that changes the server itself (CONFIG SET, stopping it) needs a server
// of its own.
func (r *Redis) Own(tb testing.TB) {
	tb.Helper()
	if r.srv == nil {
		tb.Fatal("redistest: this test changes the server and needs one of its own; unset REDIS_URL")
	}
}

func startServer(tb testing.TB) (*Redis, error) {
	srv, err := redisserver.Start(tb.TempDir())
	if errors.Is(err, redisserver.ErrNotInstalled) {
		return nil, errors.New(installHint)
	}
	if err != nil {
		return nil, fmt.Errorf("redistest: %w", err)
	}
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	tb.Cleanup(func() {
		_ = client.Close()
		srv.Kill()
	})
	return &Redis{URL: srv.URL, Addr: srv.Addr, Client: client, srv: srv}, nil
}

// claimShared takes a database of the server at REDIS_URL that no other test
// holds. Tests of several packages run as several processes, so the claim is
// a key with a lease in database 0 rather than a lock in this process.
func claimShared(tb testing.TB, raw string) (*Redis, error) {
	opt, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("redistest: REDIS_URL %q: %w", redactURL(raw), err)
	}
	opt.DB = 0
	admin := redis.NewClient(opt)
	ctx := context.Background()
	if err := admin.Ping(ctx).Err(); err != nil {
		_ = admin.Close()
		return nil, fmt.Errorf("redistest: REDIS_URL %s does not answer: %v", redactURL(raw), err)
	}
	holder := fmt.Sprintf("%d-%s", os.Getpid(), tb.Name())
	deadline := time.Now().Add(5 * time.Minute)
	for {
		// Database 0 holds the claims; tests use 1..15.
		for db := 1; db < 16; db++ {
			key := fmt.Sprintf("redistest:claim:%d", db)
			ok, err := admin.SetNX(ctx, key, holder, 10*time.Minute).Result()
			if err != nil {
				_ = admin.Close()
				return nil, fmt.Errorf("redistest: claim a database on REDIS_URL: %w", err)
			}
			if !ok {
				continue
			}
			o := *opt
			o.DB = db
			client := redis.NewClient(&o)
			if err := client.FlushDB(ctx).Err(); err != nil {
				_ = client.Close()
				_ = admin.Close()
				return nil, fmt.Errorf("redistest: flush database %d: %w", db, err)
			}
			tb.Cleanup(func() {
				_ = client.FlushDB(context.Background()).Err()
				_ = client.Close()
				_ = admin.Del(context.Background(), key).Err()
				_ = admin.Close()
			})
			u, _ := url.Parse(raw)
			u.Path = "/" + strconv.Itoa(db)
			return &Redis{URL: u.String(), Addr: o.Addr, DB: db, Client: client}, nil
		}
		if time.Now().After(deadline) {
			_ = admin.Close()
			return nil, errors.New("redistest: every database of REDIS_URL stayed claimed for 5 minutes")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

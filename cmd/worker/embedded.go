package main

import (
	"fmt"
	"net"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// embeddedRedisAddr is where `worker -sandbox` puts its embedded Redis:
// REDIS_URL's default, so `enqueue` and a second terminal find it without
// being told.
var embeddedRedisAddr = "127.0.0.1:6379" // a var only so a test can move it off a port in use

// embeddedRedis starts an in-memory Redis (miniredis) in this process, for
// the modes that must work on a machine with nothing installed: the demo
// (on a free port) and a sandbox trial with no Redis running (on addr).
// It keeps nothing and never evicts, so the Redis guard has nothing to
// check on it. close stops it.
func embeddedRedis(addr string) (rc redis.UniversalClient, close func(), err error) {
	mr := miniredis.NewMiniRedis()
	if addr == "" {
		err = mr.Start()
	} else {
		err = mr.StartAddr(addr)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("embedded Redis: %w", err)
	}
	c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	return c, func() { _ = c.Close(); mr.Close() }, nil
}

// listening reports whether something accepts connections at addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

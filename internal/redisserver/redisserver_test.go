package redisserver_test

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

func TestStartAnswersAndKillStops(t *testing.T) {
	t.Parallel()
	s, err := redisserver.Start(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if s.Version() == "" {
		t.Error("no version read from redis-server --version")
	}
	c := redis.NewClient(&redis.Options{Addr: s.Addr, MaxRetries: -1})
	defer c.Close()
	ctx := context.Background()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("ping after Start: %v", err)
	}
	s.Kill()
	s.Kill() // a second Kill must not block or panic
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("ping after Kill succeeded")
	}
}

package tasks_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

// TestMain starts the redis-server the examples share; tests start their
// own through internal/redistest.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "mediaflow-examples-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	srv, err := redisserver.Start(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tasks examples:", err, "— install Redis 6.2 or newer (Debian/Ubuntu: apt-get install redis-server)")
		os.Exit(1)
	}
	exampleRedis = srv.Addr
	code := m.Run()
	srv.Kill()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

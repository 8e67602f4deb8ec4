package tasks_test

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/mediaflow/mediaflow/internal/redisserver"
)

// The examples share one redis-server, started the first time an example
// asks for it: `go test -run 'Plan|Settle|Judge|Verdict'` runs no example
// and so needs no redis-server at all. Tests start their own through
// internal/redistest.
var (
	exampleOnce sync.Once
	exampleSrv  *redisserver.Server
	exampleDir  string
)

// exampleRedisAddr starts the examples' redis-server on first use.
func exampleRedisAddr() string {
	exampleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mediaflow-examples-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		exampleDir = dir
		exampleSrv, err = redisserver.Start(dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, "tasks examples:", err, "— install Redis 6.2 or newer (Debian/Ubuntu: apt-get install redis-server)")
			os.Exit(1)
		}
	})
	return exampleSrv.Addr
}

func TestMain(m *testing.M) {
	code := m.Run()
	if exampleSrv != nil {
		exampleSrv.Kill()
	}
	if exampleDir != "" {
		_ = os.RemoveAll(exampleDir)
	}
	os.Exit(code)
}

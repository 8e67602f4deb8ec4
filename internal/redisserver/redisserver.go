// Package redisserver launches a private redis-server on a free local port:
// the one launcher behind the test helper (internal/redistest) and the
// benchmark (cmd/bench), so both run against the same kind of server.
package redisserver

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled is returned when redis-server is not in PATH.
var ErrNotInstalled = errors.New("redis-server is not in PATH")

// Server is a running redis-server. It saves nothing to disk; its log is in
// the folder it was started in.
type Server struct {
	// Addr is 127.0.0.1:port.
	Addr string
	// URL is redis://Addr/0.
	URL string
	// Bin is the redis-server binary that runs.
	Bin string

	cmd    *exec.Cmd
	exited chan struct{}
	once   sync.Once
}

var (
	versionOnce sync.Once
	versionErr  error
)

// Start launches redis-server with its files in dir (which must exist) and
// returns once it answers PING.
func Start(dir string) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	versionOnce.Do(func() { versionErr = checkVersion(bin) })
	if versionErr != nil {
		return nil, versionErr
	}
	var lastErr error
	// A free port can be taken between our probe and redis-server's bind;
	// try a few before giving up.
	for range 5 {
		port, err := freeport.Port()
		if err != nil {
			return nil, fmt.Errorf("redis-server: find a free port: %w", err)
		}
		s, err := launch(bin, dir, port)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func launch(bin, dir string, port int) (*Server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	logFile := filepath.Join(dir, fmt.Sprintf("redis-%d.log", port))
	cmd := exec.Command(bin,
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", dir,
		"--logfile", logFile,
	)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("redis-server: start: %w", err)
	}
	s := &Server{Addr: addr, URL: "redis://" + addr + "/0", Bin: bin, cmd: cmd, exited: make(chan struct{})}
	// Waiting in the background lets the ping loop see at once that a
	// server lost the port race, instead of pinging it until the deadline.
	go func() {
		_ = cmd.Wait()
		close(s.exited)
	}()
	client := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return s, nil
		}
		exited := false
		select {
		case <-s.exited:
			exited = true
		default:
		}
		if exited || time.Now().After(deadline) {
			s.Kill()
			log, _ := os.ReadFile(logFile)
			return nil, fmt.Errorf("redis-server on %s did not answer: %v; log: %s", addr, err, lastLine(log))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. It may
// be called more than once.
func (s *Server) Kill() {
	s.once.Do(func() {
		_ = s.cmd.Process.Kill()
		<-s.exited
	})
}

// Version is the server's version as `redis-server --version` prints it
// ("7.0.15"), or "" when it cannot be read.
func (s *Server) Version() string {
	out, err := exec.Command(s.Bin, "--version").Output()
	if err != nil {
		return ""
	}
	m := fullVersionRE.FindSubmatch(out)
	if m == nil {
		return ""
	}
	return string(m[1])
}

var (
	versionRE     = regexp.MustCompile(`v=(\d+)\.(\d+)`)
	fullVersionRE = regexp.MustCompile(`v=(\d+\.\d+\.\d+)`)
)

func checkVersion(bin string) error {
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		return fmt.Errorf("redis-server: %s --version: %w", bin, err)
	}
	m := versionRE.FindSubmatch(out)
	if m == nil {
		return fmt.Errorf("redis-server: cannot read the version of %s from %q", bin, strings.TrimSpace(string(out)))
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	if major < 6 || (major == 6 && minor < 2) {
		return fmt.Errorf("redis-server: %s is Redis %d.%d; mediaflow needs 6.2 or newer (asynq uses ZRANGE BYSCORE)", bin, major, minor)
	}
	return nil
}

func lastLine(b []byte) string {
	var last string
	s := bufio.NewScanner(strings.NewReader(string(b)))
	for s.Scan() {
		if t := strings.TrimSpace(s.Text()); t != "" {
			last = t
		}
	}
	return last
}

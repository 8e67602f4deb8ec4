// Package redisserver launches a private redis-server on a free local port:
// the one launcher behind the test helper (internal/redistest) and the
// benchmark (internal/cmd/bench), so both run against the same kind of server.
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
	"syscall"
	"time"

	"github.com/mediaflow/mediaflow/internal/freeport"

	"github.com/redis/go-redis/v9"
)

// ErrNotInstalled is returned when redis-server is not in PATH.
var ErrNotInstalled = errors.New("redis-server is not in PATH")

// Server is a redis-server. By default it saves nothing to disk; with
// Options.AOF its data outlives Kill and Restart. Its log is in the folder
// it was started in.
type Server struct {
	// Addr is 127.0.0.1:port; it stays the same across restarts.
	Addr string
	// URL is redis://[:Password@]Addr/0.
	URL string
	// Bin is the redis-server binary that runs.
	Bin string
	// Password is the requirepass the server was started with, or "".
	Password string

	dir, logFile string
	args         []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Options change how a server runs; the zero value is Start's server.
type Options struct {
	// AOF turns the append-only file on, fsynced on every write, so a
	// server killed and restarted keeps every acknowledged write.
	AOF bool
	// Password sets requirepass (and masterauth, so the server can follow
	// a master with the same password as a replica).
	Password string
	// Args are more redis-server arguments ("--replicaof", "h", "p", …).
	Args []string
	// Port is the port to listen on; 0 picks a free one.
	Port int

	// sentinelConf makes the server a sentinel reading (and rewriting)
	// this config file.
	sentinelConf string
}

var (
	versionOnce sync.Once
	versionErr  error
)

// Start launches redis-server with its files in dir (which must exist) and
// returns once it answers PING.
func Start(dir string) (*Server, error) {
	return StartWith(dir, Options{})
}

// StartWith is Start with options.
func StartWith(dir string, o Options) (*Server, error) {
	bin, err := binary()
	if err != nil {
		return nil, err
	}
	if o.Port != 0 {
		return launch(bin, dir, o.Port, o)
	}
	var lastErr error
	// A free port can be taken between our probe and redis-server's bind;
	// try a few before giving up.
	for range 5 {
		port, err := freeport.Port()
		if err != nil {
			return nil, fmt.Errorf("redis-server: find a free port: %w", err)
		}
		s, err := launch(bin, dir, port, o)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func binary() (string, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return "", ErrNotInstalled
	}
	versionOnce.Do(func() { versionErr = checkVersion(bin) })
	return bin, versionErr
}

func launch(bin, dir string, port int, o Options) (*Server, error) {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	p := strconv.Itoa(port)
	args := []string{
		"--port", p,
		"--bind", "127.0.0.1",
		"--save", "",
		"--dir", dir,
		"--logfile", filepath.Join(dir, "redis-"+p+".log"),
		// Several servers may share dir: their files must not collide.
		"--dbfilename", "dump-" + p + ".rdb",
	}
	if o.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always", "--appenddirname", "appendonly-"+p)
	} else {
		args = append(args, "--appendonly", "no")
	}
	if o.Password != "" {
		args = append(args, "--requirepass", o.Password, "--masterauth", o.Password)
	}
	args = append(args, o.Args...)
	if o.sentinelConf != "" {
		// The config file must come first; sentinel rewrites it as it
		// learns the set, so each sentinel has its own.
		args = append(append([]string{o.sentinelConf}, args...), "--sentinel")
	}
	s := &Server{Addr: addr, URL: "redis://" + addr + "/0", Bin: bin, Password: o.Password,
		dir: dir, logFile: filepath.Join(dir, "redis-"+p+".log"), args: args}
	if o.Password != "" {
		s.URL = "redis://:" + o.Password + "@" + addr + "/0"
	}
	if err := s.run(); err != nil {
		return nil, err
	}
	return s, nil
}

// run starts the process and waits until it answers PING.
func (s *Server) run() error {
	cmd := exec.Command(s.Bin, s.args...)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("redis-server: start: %w", err)
	}
	exited := make(chan struct{})
	// Waiting in the background lets the ping loop see at once that a
	// server lost the port race, instead of pinging it until the deadline.
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()
	if err := waitPing(s.Addr, s.Password, exited); err != nil {
		s.Kill()
		log, _ := os.ReadFile(s.logFile)
		return fmt.Errorf("redis-server on %s did not answer: %v; log: %s", s.Addr, err, lastLine(log))
	}
	return nil
}

// waitPing waits until addr answers PING, the process exits, or 10 s pass.
func waitPing(addr, password string, exited <-chan struct{}) error {
	client := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1})
	defer client.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := client.Ping(ctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("exited: %w", err)
		default:
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Kill stops the server at once (SIGKILL) and waits for it to exit. It may
// be called more than once.
func (s *Server) Kill() {
	s.signal(os.Kill)
}

// Stop stops the server the way an operator does (SIGTERM: it finishes
// writing its files) and waits for it to exit.
func (s *Server) Stop() {
	s.signal(syscall.SIGTERM)
}

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(sig)
	<-exited
}

// Freeze stops the server's process (SIGSTOP) without closing its
// connections: its peers see it alive and silent, as with a server stuck
// on a slow disk. Thaw lets it go on.
func (s *Server) Freeze() { s.notify(syscall.SIGSTOP) }

// Thaw continues a frozen server (SIGCONT).
func (s *Server) Thaw() { s.notify(syscall.SIGCONT) }

// notify sends sig and, unlike signal, does not wait for an exit.
func (s *Server) notify(sig os.Signal) {
	s.mu.Lock()
	cmd := s.cmd
	s.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(sig)
	}
}

// Restart stops the server if it runs (SIGKILL: a crash) and starts it again
// on the same port with the same files. With Options.AOF it comes back with
// its data.
func (s *Server) Restart() error {
	s.Kill()
	return s.run()
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
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

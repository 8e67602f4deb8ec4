// Command enqueue hands mediaflow work and follows it, for people and for
// scripts:
//
//	enqueue publish --media SRC --profile ID --caption TEXT (--now | --at RFC3339 | --draft) [--wait]
//	enqueue batch FILE.jsonl        one publish request (JSON) per line; - reads stdin
//	enqueue status ID               the pipeline's record as JSON
//	enqueue list [--state S]        pipelines, newest first
//	enqueue cancel ID               stop a pipeline whose post is not out yet
//	enqueue sweeps                  what the last cleanup sweeps did
//
// It talks to Redis only (REDIS_URL or -redis); the workers do the rest.
// Local media files are checked against MEDIA_ROOT before anything is
// queued.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/tasks"
)

func main() {
	// go-redis reports dial retries on its own; the command reports the
	// failure once, in its own words.
	redis.SetLogger(quietLogger{})
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what every command shares.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand: it parses its own flags from args.
type command struct {
	usage string
	run   func(e *env, args []string) int
}

var commands = map[string]command{
	"publish": {"publish --media SRC [--media SRC …] --profile ID [--profile ID …] --caption TEXT [--type MEDIA] [--at RFC3339 | --now | --draft] [--post ID] [--label ID] [--first-comment TEXT] [--key KEY] [--cleanup after-publish|never] [--wait]", runPublish},
	"batch":   {"batch FILE.jsonl   (- for stdin)", runBatch},
	"status":  {"status ID", runStatus},
	"list":    {"list [--state pending|running|succeeded|failed|cancelled] [--limit N] [--cursor C] [--json]", runList},
	"cancel":  {"cancel ID", runCancel},
	"sweeps":  {"sweeps", runSweeps},
}

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the work failed, or some batch lines were bad
	exitUsage   = 2 // bad flags or input: nothing was queued
	exitRuntime = 3 // Redis or another dependency failed
)

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "enqueue: unknown command %q (commands: publish, batch, status, list, cancel, sweeps)\n", args[0])
		return exitUsage
	}
	return c.run(e, args[1:])
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: enqueue <command> [flags]")
	for _, name := range []string{"publish", "batch", "status", "list", "cancel", "sweeps"} {
		fmt.Fprintln(w, "  enqueue "+commands[name].usage)
	}
	fmt.Fprintln(w, "common flags: -redis URL (env REDIS_URL), -media-root DIR (env MEDIA_ROOT)")
}

// common are the flags every command takes.
type common struct {
	redisURL  string
	mediaRoot string
}

func (e *env) flags(name string, c *common) *flag.FlagSet {
	fs := flag.NewFlagSet("enqueue "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	def := func(k, d string) string {
		if v := e.getenv(k); v != "" {
			return v
		}
		return d
	}
	fs.StringVar(&c.redisURL, "redis", def("REDIS_URL", "redis://127.0.0.1:6379/0"), "Redis URL (env REDIS_URL)")
	fs.StringVar(&c.mediaRoot, "media-root", def("MEDIA_ROOT", ""), "the worker's media folder; local files must lie in it (env MEDIA_ROOT)")
	return fs
}

// parse parses args, reporting problems in one line; ok is false when the
// command must stop (with code).
func (e *env) parse(fs *flag.FlagSet, args []string, positional int) (code int, ok bool) {
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK, false
		}
		// flag already printed the reason.
		return exitUsage, false
	}
	if positional >= 0 && fs.NArg() != positional {
		if positional == 0 {
			fmt.Fprintf(e.stderr, "%s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		} else {
			fmt.Fprintf(e.stderr, "%s: want %d argument(s), got %d\n", fs.Name(), positional, fs.NArg())
		}
		return exitUsage, false
	}
	return exitOK, true
}

// client connects to Redis and returns the Go API client.
func (e *env) client(c *common) (*tasks.Client, func(), error) {
	rc, err := redisurl.NewClient(c.redisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL %s: %v", redisurl.Redacted(c.redisURL), err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 3*time.Second)
	defer cancel()
	if err := rc.Ping(ctx).Err(); err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("cannot reach Redis: %v", err)
	}
	check, err := tasks.WithMediaRoot(c.mediaRoot)
	if err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("MEDIA_ROOT: %v", err)
	}
	cl := tasks.NewClient(rc, check)
	return cl, func() { _ = cl.Close(); _ = rc.Close() }, nil
}

// fail prints err as the one line a person reads, and picks the exit code.
func (e *env) fail(cmd string, err error) int {
	var ve *tasks.ValidationError
	switch {
	case errors.As(err, &ve):
		parts := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			parts[i] = p.Field + ": " + p.Message
		}
		fmt.Fprintf(e.stderr, "enqueue %s: invalid request: %s\n", cmd, strings.Join(parts, "; "))
		return exitUsage
	case tasks.IsNotFound(err):
		fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
		return exitFailed
	case errors.Is(err, tasks.ErrKeyReused), errors.Is(err, tasks.ErrFinished), errors.Is(err, tasks.ErrAlreadyPublished):
		fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
		return exitFailed
	}
	fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
	return exitRuntime
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// Command enqueue hands mediaflow work and follows it, for people and for
// scripts:
//
//	enqueue publish --media SRC --profile ID --caption TEXT (--now | --at RFC3339 | --draft) [--wait]
//	enqueue batch FILE.jsonl        one publish request (JSON) per line; - reads stdin
//	enqueue status ID [--json]      where the pipeline is (--json: the record)
//	enqueue follow ID               its steps, live, until it is over
//	enqueue wait ID...              until all are over; exit 0 if all succeeded
//	enqueue list [--state S]        pipelines, newest first
//	enqueue cancel ID               stop a pipeline whose post is not out yet
//	enqueue edit ID --caption … --at …   change or reschedule it before it publishes
//	enqueue replay ID [--profile …] run a failed or cancelled pipeline again
//	enqueue redeliver ID            send the pipeline's last webhook event again
//	enqueue sweeps                  the sweep schedule and what the last sweeps did
//	enqueue workspaces              the workspaces served, and which are paused and why
//	enqueue workspace pause|resume NAME   pause or resume a workspace by hand
//	enqueue completion bash|zsh|fish
//
// It talks to Redis only (REDIS_URL or --redis); the workers do the rest.
// Local media files are checked against MEDIA_ROOT, and URLs (media and
// webhooks) against the address guard and ALLOWED_SOURCE_HOSTS, before
// anything is queued. It prints no colour, so NO_COLOR holds as it is.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"

	"github.com/mediaflow/mediaflow/internal/redisurl"
	"github.com/mediaflow/mediaflow/internal/version"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
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

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1 // the work failed, or some batch lines were bad
	exitUsage   = 2 // bad flags or input: nothing was queued
	exitRuntime = 3 // Redis or another dependency failed
	// exitTimeout: --wait --timeout ran out; the pipeline goes on (the
	// code timeout(1) uses).
	exitTimeout = 124
	// exitInterrupted: SIGINT or SIGTERM (128+2, what shells report for
	// Ctrl-C); whatever was queued goes on.
	exitInterrupted = 130
)

// env is what every command shares.
type env struct {
	ctx    context.Context
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	common common
}

// common are the flags every command takes; each falls back to its
// environment variable when not given.
type common struct {
	redisURL     string
	mediaRoot    string
	allowedHosts string
}

// exitError ends a command with code; the command has already said why.
type exitError struct{ code int }

func (e *exitError) Error() string { return fmt.Sprintf("exit %d", e.code) }

func exit(code int) error {
	if code == exitOK {
		return nil
	}
	return &exitError{code}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	root := e.rootCommand()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	var xe *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &xe):
		return xe.code
	}
	// Flag, argument and command-name problems: cobra's words, one line,
	// and where to read more.
	msg := strings.TrimSpace(err.Error())
	first, rest, _ := strings.Cut(msg, "\n")
	fmt.Fprintf(stderr, "%s (see '%s --help')\n", first, helpPath(root, args))
	if rest = strings.TrimSpace(rest); rest != "" {
		fmt.Fprintln(stderr, rest)
	}
	return exitUsage
}

// helpPath is the command whose --help answers a mistake in args.
func helpPath(root *cobra.Command, args []string) string {
	if c, _, err := root.Find(args); err == nil && c != nil {
		return c.CommandPath()
	}
	return root.Name()
}

func (e *env) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "enqueue",
		Short: "Hand mediaflow publish requests and follow their pipelines",
		Long: `enqueue hands mediaflow publish requests and follows their pipelines.
It talks to Redis only; mediaflow's workers do the work.

Local media files must lie under MEDIA_ROOT. Media and webhook URLs must not
name a private, loopback or link-local address unless their host is in
ALLOWED_SOURCE_HOSTS (give the workers' value). Nothing is queued for a
request that is refused.

Exit codes: 0 ok; 1 the work failed, was not found, or some batch lines were
bad; 2 bad flags or input (nothing queued); 3 Redis unreachable; 124 --wait
--timeout ran out; 130 interrupted (what was queued goes on).`,
		Version:       version.String("enqueue"),
		SilenceErrors: true,
		SilenceUsage:  true,
		Args:          cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(e.stderr, "usage: enqueue <command> [flags]; commands: publish, batch, status, follow, wait, list, cancel, edit, replay, redeliver, sweeps, workspaces, workspace (see 'enqueue --help')")
			return exit(exitUsage)
		},
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	root.SetIn(e.stdin)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		// The worker takes -flag and --flag alike; enqueue's short flags
		// make -media mean -m -e -d…, so say what was meant.
		if _, arg, ok := strings.Cut(err.Error(), "unknown shorthand flag: "); ok {
			if _, long, ok := strings.Cut(arg, " in -"); ok && len(long) > 1 && !strings.HasPrefix(long, "-") {
				name, _, _ := strings.Cut(long, "=")
				return fmt.Errorf("%s: %w (long flags take two dashes: --%s)", c.CommandPath(), err, name)
			}
		}
		return fmt.Errorf("%s: %w", c.CommandPath(), err)
	})
	pf := root.PersistentFlags()
	pf.StringVar(&e.common.redisURL, "redis", "redis://127.0.0.1:6379/0", "Redis `URL` (env REDIS_URL)")
	pf.StringVar(&e.common.mediaRoot, "media-root", "", "the workers' media folder (`DIR`); local files must lie in it (env MEDIA_ROOT)")
	pf.StringVar(&e.common.allowedHosts, "allowed-source-hosts", "", "comma-separated `HOSTS` that media and webhook URLs may use although private (env ALLOWED_SOURCE_HOSTS)")
	root.PersistentPreRun = func(cmd *cobra.Command, _ []string) {
		// Flags win over the environment. The defaults shown by --help stay
		// the built-in ones, so a REDIS_URL password never lands in it.
		for flag, key := range map[string]string{"redis": "REDIS_URL", "media-root": "MEDIA_ROOT", "allowed-source-hosts": "ALLOWED_SOURCE_HOSTS"} {
			f := cmd.Flags().Lookup(flag)
			if f != nil && !f.Changed {
				if v := e.getenv(key); v != "" {
					_ = f.Value.Set(v)
				}
			}
		}
	}
	root.AddCommand(e.publishCommand(), e.batchCommand(), e.statusCommand(), e.followCommand(), e.waitCommand(), e.listCommand(),
		e.cancelCommand(), e.editCommand(), e.replayCommand(), e.bulkCommand(), e.redeliverCommand(), e.sweepsCommand(),
		e.workspacesCommand(), e.workspaceCommand())
	return root
}

// args checks a command's positional arguments in the words the command
// has always used.
func args(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		switch {
		case len(a) == n:
			return nil
		case n == 0:
			return fmt.Errorf("%s: unexpected argument %q", cmd.CommandPath(), a[0])
		}
		return fmt.Errorf("%s: want %d argument(s), got %d", cmd.CommandPath(), n, len(a))
	}
}

// splitHosts reads a comma-separated host list the way the worker does.
func splitHosts(list string) []string {
	var out []string
	for _, h := range strings.Split(list, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// client connects to Redis and returns the Go API client, checking
// sources and webhook URLs the way the workers will.
func (e *env) client() (*tasks.Client, func(), error) {
	c := e.common
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
	sources, err := source.New(source.Config{Root: c.mediaRoot, AllowedHosts: splitHosts(c.allowedHosts)})
	if err != nil {
		_ = rc.Close()
		return nil, nil, fmt.Errorf("MEDIA_ROOT or ALLOWED_SOURCE_HOSTS: %v", err)
	}
	// With OTEL_* set, a publish starts its pipeline's trace here (and a
	// cancel or redelivery is a span in it); off, this costs nothing.
	tr, err := tracingsdk.Setup(e.ctx, e.getenv, tracingsdk.Build{Version: version.Number(), Commit: version.Revision()})
	if err != nil {
		_ = rc.Close()
		return nil, nil, err
	}
	opts := []tasks.ClientOption{tasks.WithSources(sources), tasks.WithTracerProvider(tr.TracerProvider())}
	// PREFLIGHT is the workers' setting: the enqueuer decides whether a
	// pipeline starts with pre-flight, so it reads the same variable.
	if v := strings.ToLower(strings.TrimSpace(e.getenv("PREFLIGHT"))); v == "false" || v == "0" || v == "off" {
		opts = append(opts, tasks.WithoutPreflight())
	}
	cl := tasks.NewClient(rc, opts...)
	return cl, func() {
		_ = cl.Close()
		_ = rc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := tr.Shutdown(ctx); err != nil {
			fmt.Fprintln(e.stderr, "enqueue:", err)
		}
	}, nil
}

// connect is client for a command: a failure is reported in one line.
func (e *env) connect(cmd string) (*tasks.Client, func(), error) {
	cl, closeFn, err := e.client()
	if err != nil {
		fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
		return nil, nil, exit(exitRuntime)
	}
	return cl, closeFn, nil
}

// fail prints err as the one line a person reads, and picks the exit code.
func (e *env) fail(cmd string, err error) error {
	var ve *tasks.ValidationError
	var we *tasks.WorkspaceError
	switch {
	case errors.As(err, &we):
		fmt.Fprintf(e.stderr, "enqueue %s: invalid request: %v\n", cmd, we)
		return exit(exitUsage)
	case errors.As(err, &ve):
		parts := make([]string, len(ve.Problems))
		for i, p := range ve.Problems {
			parts[i] = p.Field + ": " + p.Message
		}
		fmt.Fprintf(e.stderr, "enqueue %s: invalid request: %s\n", cmd, strings.Join(parts, "; "))
		return exit(exitUsage)
	case tasks.IsNotFound(err), errors.Is(err, tasks.ErrKeyReused), errors.Is(err, tasks.ErrFinished),
		errors.Is(err, tasks.ErrAlreadyPublished), errors.Is(err, tasks.ErrNoWebhook):
		fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
		return exit(exitFailed)
	case e.ctx.Err() != nil:
		fmt.Fprintf(e.stderr, "enqueue %s: interrupted\n", cmd)
		return exit(exitInterrupted)
	}
	fmt.Fprintf(e.stderr, "enqueue %s: %v\n", cmd, err)
	return exit(exitRuntime)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

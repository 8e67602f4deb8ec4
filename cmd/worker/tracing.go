package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/rdb"
	buildinfo "github.com/mediaflow/mediaflow/internal/version"
	"github.com/mediaflow/mediaflow/tracing/tracingsdk"
)

// tracingFlushTimeout bounds the export of the spans still buffered when
// the worker stops: a collector that is gone must not hold the exit.
const tracingFlushTimeout = 5 * time.Second

// startTracing sets tracing up from the standard OTEL_* variables (no
// flag of its own: tracingsdk.Setup says which) into cfg.tracing, whose
// provider the Swonkie client, the tasks, the API and the pages are each
// handed. The real program (never a test running it beside others) also
// installs it as the process's global one when it is on, for any library
// that looks there. Off, it costs nothing.
func startTracing(ctx context.Context, cfg *config, getenv func(string) string) (*tracingsdk.Tracing, error) {
	apiID := cfg.SwonkieAPIID
	if cfg.Sandbox || cfg.Demo {
		apiID = sandboxID
	}
	b := tracingsdk.Build{Version: buildinfo.Number(), Commit: buildinfo.Revision()}
	if apiID != "" {
		// The budget's name for the workspace: a hash, never the id.
		b.Workspace = rdb.BudgetWorkspace(apiID)
	}
	tr, err := tracingsdk.Setup(ctx, getenv, b)
	if err != nil {
		return nil, err
	}
	if tr.Enabled() && ownProcess {
		tr.SetGlobal()
	}
	cfg.tracing = tr
	return tr, nil
}

// stopTracing exports what is still buffered.
func stopTracing(tr *tracingsdk.Tracing, stderr io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), tracingFlushTimeout)
	defer cancel()
	if err := tr.Shutdown(ctx); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
	}
}

// tracerProvider is where the program's spans go: the provider OTEL_*
// set up (a no-op one when off), never the global one.
func (c *config) tracerProvider() trace.TracerProvider {
	if c.tracing == nil {
		return tracingsdk.Off().TracerProvider()
	}
	return c.tracing.TracerProvider()
}

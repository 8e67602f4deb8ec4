// Command swonkie-sandbox serves the strict, fault-injecting Swonkie API v2
// stand-in of package swonkie/sandbox on a real port, for demos and manual
// testing:
//
//	swonkie-sandbox -addr :8090 -api-id demo -api-key demo \
//	    -faults '{"*":{"error5xx":0.05},"POST /posts":{"lostReply":0.1}}'
//
// The API is under /v2, uploads under /blob, and /_sandbox/stats and
// POST /_sandbox/clock/advance?by=16m (same credentials) show and move its
// state. It logs one line per request: method, endpoint template, status;
// never ids, credentials or signatures. SIGINT or SIGTERM stop it
// gracefully.
//
// By default it answers only what the Swonkie docs show; -media-id-field,
// -list-entries, -briefing and -search-briefing pick the other shapes the
// docs allow, -lenient the friendliest of each. -version prints the build.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mediaflow/mediaflow/internal/version"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// demoCredential is what -api-id and -api-key default to, so that a demo
// needs no setup; the sandbox says so loudly when it is used.
const demoCredential = "demo"

// shutdownGrace bounds how long requests in flight (an upload, a slow
// call) may finish after a signal.
const shutdownGrace = 10 * time.Second

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr, nil); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "swonkie-sandbox:", err)
		}
		os.Exit(2)
	}
}

// run serves until ctx ends. ready, when set, gets the listening address.
// Only -version writes to stdout; logs go to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addr string)) error {
	fs := flag.NewFlagSet("swonkie-sandbox", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", ":8090", "address to listen on")
	apiID := fs.String("api-id", demoCredential, "workspace API id every call must send in X-API-ID")
	apiKey := fs.String("api-key", demoCredential, "workspace API key every call must send in X-API-KEY")
	seed := fs.Int64("seed", 1, "seed for ids, fault decisions and processing outcomes")
	faults := fs.String("faults", "", `fault plan as JSON or @file, e.g. {"*":{"error5xx":0.05},"POST /posts":{"lostReply":0.1}}`)
	latency := fs.Duration("latency", 0, "latency added to every /v2 call")
	processing := fs.Duration("processing-delay", 3*time.Second, "time from confirm to SUCCESS or ERROR")
	publish := fs.Duration("publish-delay", 5*time.Second, "time from publishNow to PUBLISHED")
	window := fs.Duration("upload-window", sandbox.DefaultUploadWindow, "lifetime of an upload URL")
	ttl := fs.Duration("unconfirmed-ttl", sandbox.DefaultUnconfirmedTTL, "lifetime of a media that is never confirmed")
	errorRate := fs.Float64("error-rate", 0, "share of confirmed uploads that end in ERROR")
	mediaIDField := fs.String("media-id-field", "", `field(s) of the POST /media answer holding the id: mediaId (default), id or all`)
	listEntries := fs.String("list-entries", "", `what a GET /posts entry carries: minimal (default: id, type, stage, publishAt), documented (+ profiles, medias) or full`)
	briefing := fs.String("briefing", "", `where answers carry a post's briefing: never (default), post or everywhere`)
	searchBriefing := fs.Bool("search-briefing", false, "GET /posts?search= also looks in briefings")
	labelList := fs.String("label-list", "", `how GET /labels answers: paged (default, as GET /posts) or whole`)
	callToActions := fs.String("call-to-actions", "", `comma-separated callToAction values a carousel card may carry (default NO_BUTTON, the one the docs show)`)
	lenient := fs.Bool("lenient", false, "answer with every field the sandbox knows, not only what the docs show")
	showVersion := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String("swonkie-sandbox"))
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	plan, err := sandbox.ParseFaultPlan(*faults)
	if err != nil {
		return err
	}

	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *apiID == demoCredential || *apiKey == demoCredential {
		log.Warn("using the demo credential; pass -api-id and -api-key to choose your own", "value", demoCredential)
	}
	sb, err := sandbox.New(sandbox.Options{
		APIID: *apiID, APIKey: *apiKey, Seed: *seed, Faults: plan, Latency: *latency,
		ProcessingDelay: *processing, PublishDelay: *publish, UploadWindow: *window, UnconfirmedTTL: *ttl,
		ErrorRate: *errorRate, Logger: log, MediaIDField: sandbox.MediaIDField(*mediaIDField),
		ListEntries: sandbox.ListEntryShape(*listEntries), Briefing: sandbox.BriefingEcho(*briefing),
		SearchBriefing: *searchBriefing, Lenient: *lenient, LabelList: sandbox.LabelListShape(*labelList),
		CallToActions: splitList(*callToActions),
	})
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	// No write timeout: a large upload takes as long as it takes.
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	for _, p := range sb.Profiles() {
		log.Info("profile", "id", p.ID, "net", p.Net.Code, "username", p.Username, "statusLevel", p.StatusLevel)
	}
	log.Info("serving the Swonkie sandbox", "api", "http://"+ln.Addr().String()+"/v2", "seed", *seed,
		"faults", *faults != "", "processingDelay", *processing, "publishDelay", *publish, "lenient", *lenient)
	if ready != nil {
		ready(ln.Addr().String())
	}

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// splitList reads a comma-separated flag; empty parts are dropped.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

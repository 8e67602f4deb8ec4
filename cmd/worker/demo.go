package main

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/redis/go-redis/v9"

	buildinfo "github.com/mediaflow/mediaflow/internal/version"
	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/ui"
)

//go:embed samples
var samples embed.FS

// demoTiming is the production pipeline with its waits shortened, so the
// whole lifecycle fits in well under a minute.
var demoTiming = tasks.Timing{
	RetryBase:       500 * time.Millisecond,
	RetryMax:        2 * time.Second,
	AwaitFirst:      500 * time.Millisecond,
	AwaitMax:        time.Second,
	WatchFirst:      time.Second,
	WatchMax:        2 * time.Second,
	PublishGrace:    500 * time.Millisecond,
	MinScheduleLead: 5 * time.Second,
}

// demoCase is one publish request of the demo and the end it should reach.
type demoCase struct {
	title string
	req   tasks.Request
	want  tasks.State // "" for a request pre-flight refuses at enqueue
}

// runDemo publishes the bundled sample images through the whole lifecycle
// against the in-process sandbox, shows each step as it happens, and ends
// with a table of what happened. It needs nothing installed: Redis is
// embedded unless REDIS_URL points at one.
func runDemo(ctx context.Context, cfg *config, getenv func(string) string, stdout, stderr io.Writer) int {
	started := time.Now()
	fmt.Fprintln(stdout, "mediaflow demo: the Swonkie media lifecycle, end to end, against the built-in sandbox")
	fmt.Fprintln(stdout)

	var rc redis.UniversalClient
	if getenv("REDIS_URL") == "" && !cfg.given["redis"] {
		c, stop, err := embeddedRedis("")
		if err != nil {
			fmt.Fprintln(stderr, "worker:", err)
			return 1
		}
		defer stop()
		rc = c
		fmt.Fprintln(stdout, "  redis    embedded, in memory (REDIS_URL is unset); nothing is kept")
	} else {
		var err error
		rc, err = connectRedis(ctx, cfg.RedisURL)
		if err != nil {
			fmt.Fprintln(stderr, "worker:", err)
			return 1
		}
		fmt.Fprintf(stdout, "  redis    %s\n", redactedURL(cfg.RedisURL))
	}
	defer rc.Close()

	root, err := os.MkdirTemp("", "mediaflow-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	defer os.RemoveAll(root)
	if err := writeSamples(root); err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	cfg.MediaRoot, cfg.Sandbox, cfg.SweepSchedule = root, true, "off"
	// The demo's own output is the show; its log is printed only when the
	// demo fails.
	var logs strings.Builder
	log, _ := newLogger("warn", "console", &logs)
	m := metrics.New(metrics.Options{Version: buildinfo.Number(), Commit: buildinfo.Revision()})
	st, err := startStack(ctx, cfg, rc, m, log, demoTiming)
	if err != nil {
		fmt.Fprintln(stderr, "worker:", err)
		return 1
	}
	defer st.shutdown()
	fmt.Fprintf(stdout, "  swonkie  in-process sandbox at %s (media take 1.5s to process, posts 2s to publish;\n", st.api.BaseURL())
	fmt.Fprintln(stdout, "           some media creates may answer 5xx and some post calls 429, to show retries)")
	fmt.Fprintf(stdout, "  media    %s (MEDIA_ROOT)\n\n", root)

	profiles, err := st.api.ListProfiles(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "worker: list profiles:", err)
		return 1
	}
	var ok []string
	expired := ""
	for _, p := range profiles {
		if p.StatusLevel == swonkie.StatusOK {
			ok = append(ok, p.ID)
		} else {
			expired = p.ID
		}
	}
	cases := demoCases(ok, expired, time.Now())
	ids := make([]string, len(cases))
	for i, c := range cases {
		rec, _, err := st.client.Publish(ctx, c.req)
		if c.want == "" && err != nil {
			fmt.Fprintf(stdout, "  #%d refused   %-44s %v\n", i+1, c.title, err)
			continue
		}
		if err != nil || c.want == "" {
			fmt.Fprintf(stderr, "worker: publish %q: %v (want it refused: %t)\n", c.title, err, c.want == "")
			return 1
		}
		ids[i] = rec.ID
		fmt.Fprintf(stdout, "  #%d accepted  %-44s pipeline %s\n", i+1, c.title, rec.ID)
		if rec.TraceID != "" {
			link := ui.TraceURL(cfg.TraceURLTemplate, rec.TraceID)
			if link == "" {
				link = "trace " + rec.TraceID
			}
			fmt.Fprintf(stdout, "              %s\n", link)
		}
	}
	// The idempotency key at work: the same request again is the same
	// pipeline, and nothing new runs.
	again, created, err := st.client.Publish(ctx, cases[2].req)
	if err == nil && !created && again.ID == ids[2] {
		fmt.Fprintf(stdout, "  #3 sent again with key %q: same pipeline, nothing new enqueued\n", cases[2].req.Key)
	}
	fmt.Fprintln(stdout)

	recs := follow(ctx, st.client, ids, started, stdout)
	fmt.Fprintln(stdout)
	report(stdout, cases, recs, st.sandbox)
	failed := 0
	for i, r := range recs {
		if (r == nil) != (cases[i].want == "") || r != nil && r.State != cases[i].want {
			failed++
		}
	}
	stats := st.sandbox.Stats()
	fmt.Fprintf(stdout, "\n  sandbox: %d media created, %d deleted, %d left in the library (used by a draft or kept), %d posts, %d duplicates\n",
		stats.Media.Created, stats.Media.Deleted, stats.Media.Created-stats.Media.Deleted, stats.Posts.Created, stats.Posts.DuplicatePosts())
	fmt.Fprintf(stdout, "  finished in %s\n", time.Since(started).Round(100*time.Millisecond))
	if failed > 0 {
		fmt.Fprintf(stdout, "\n  %d pipeline(s) did not end as expected; the worker's log:\n", failed)
		fmt.Fprint(stderr, logs.String())
		return 1
	}
	fmt.Fprint(stdout, nextSteps(ok[0]))
	return 0
}

// nextSteps is the demo's last word: how to do by hand what it just did,
// with a profile id the sandbox really has (its profile ids are the same on
// every start).
func nextSteps(profile string) string {
	samples := "<a folder with your images>"
	if abs, err := filepath.Abs(filepath.Join("cmd", "worker", "samples")); err == nil {
		if fi, err := os.Stat(abs); err == nil && fi.IsDir() {
			samples = abs
		}
	}
	return fmt.Sprintf(`
  next: do it by hand (README.md, "Try it by hand"); with no Redis on 127.0.0.1:6379,
        -sandbox starts an embedded one there:
          go build -o bin/ ./cmd/... && export MEDIA_ROOT=%s
          bin/worker -sandbox &     # wait for its "worker started" line
          bin/enqueue publish --media sunrise.jpg --profile '%s' --caption Hello --now --wait
        bin/worker --help lists every setting, with examples.
`, samples, profile)
}

func demoCases(profiles []string, expired string, now time.Time) []demoCase {
	at := now.Add(12 * time.Second)
	return []demoCase{
		{"one image, published now", tasks.Request{
			Media:  []tasks.MediaSource{{Source: "sunrise.jpg"}},
			Post:   &tasks.PostSpec{ProfileIDs: profiles[:2], Caption: "Good morning from mediaflow", FirstComment: "Made with the sandbox"},
			Action: tasks.ActionPublishNow,
		}, tasks.StateSucceeded},
		{"two images, scheduled 12s ahead", tasks.Request{
			Media:  []tasks.MediaSource{{Source: "waves.jpg"}, {Source: "sunrise.jpg"}},
			Post:   &tasks.PostSpec{ProfileIDs: profiles[1:2], Caption: "Patterns", PublishAt: &at},
			Action: tasks.ActionSchedule,
		}, tasks.StateSucceeded},
		{"draft, media kept (idempotency key)", tasks.Request{
			Key:     "demo-draft-1",
			Media:   []tasks.MediaSource{{Source: "sunrise.jpg", Name: "cover.jpg"}},
			Post:    &tasks.PostSpec{ProfileIDs: profiles[:1], Caption: "For later"},
			Action:  tasks.ActionDraft,
			Cleanup: tasks.CleanupNever,
		}, tasks.StateSucceeded},
		{"a PNG for Instagram: fails in pre-flight", tasks.Request{
			Media:  []tasks.MediaSource{{Source: "checkers.png"}},
			Post:   &tasks.PostSpec{ProfileIDs: profiles[1:2], Caption: "Checkers"},
			Action: tasks.ActionPublishNow,
		}, tasks.StateFailed},
		{"expired profile: refused at enqueue", tasks.Request{
			Media:  []tasks.MediaSource{{Source: "waves.jpg"}, {Source: "sunrise.jpg"}},
			Post:   &tasks.PostSpec{ProfileIDs: []string{expired}, Caption: "This one cannot publish"},
			Action: tasks.ActionPublishNow,
		}, ""},
	}
}

// follow prints every step change until all pipelines end (or a minute
// passes) and returns their last records.
func follow(ctx context.Context, c *tasks.Client, ids []string, started time.Time, w io.Writer) []*tasks.Record {
	recs := make([]*tasks.Record, len(ids))
	last := make([]string, len(ids))
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		done := 0
		for i, id := range ids {
			if id == "" { // refused at enqueue: nothing to follow
				done++
				continue
			}
			r, err := c.Get(ctx, id)
			if err != nil {
				continue
			}
			recs[i] = r
			now := r.Progress()
			if now != last[i] {
				last[i] = now
				fmt.Fprintf(w, "  %5.1fs  #%d  %s\n", time.Since(started).Seconds(), i+1, now)
			}
			if r.State.Terminal() && r.Cleanup != "pending" {
				done++
			}
		}
		if done == len(ids) {
			break
		}
		select {
		case <-ctx.Done():
			return recs
		case <-time.After(100 * time.Millisecond):
		}
	}
	return recs
}

func report(w io.Writer, cases []demoCase, recs []*tasks.Record, sb *sandbox.Server) {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  #\tpipeline\tstate\tsteps (first → last event)\tmedia made/deleted\tpost\ttook\tnote")
	for i, r := range recs {
		if r == nil {
			what := "(no record)"
			if cases[i].want == "" {
				what = "refused\t-\t0/0\t-\t-\tthe enqueue-time profile check: nothing was created"
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s\n", i+1, cases[i].title, what)
			continue
		}
		made, deleted := 0, 0
		for _, m := range r.Media {
			if m.MediaID != "" {
				made++
				if info, ok := sb.Media(m.MediaID); ok && info.State == sandbox.StateDeleted {
					deleted++
				}
			}
		}
		for _, s := range r.StaleMedia {
			made++
			if info, ok := sb.Media(s.MediaID); ok && info.State == sandbox.StateDeleted {
				deleted++
			}
		}
		var steps []string
		for _, e := range r.History {
			if len(steps) == 0 || steps[len(steps)-1] != string(e.Step) {
				steps = append(steps, string(e.Step))
			}
		}
		post := "-"
		if r.PostID != "" {
			post = r.PostSummary()
		}
		end := r.UpdatedAt
		if r.FinishedAt != nil {
			end = *r.FinishedAt
		}
		var notes []string
		retries := 0
		for _, e := range r.History {
			if e.Outcome == "retry" || e.Outcome == "rate_limited" {
				retries++
			}
		}
		if retries > 0 {
			notes = append(notes, fmt.Sprintf("%d retried call(s)", retries))
		}
		if r.State == tasks.StateFailed && r.Error != nil {
			notes = append(notes, r.Error.Message)
		}
		note := strings.Join(notes, "; ")
		fmt.Fprintf(tw, "  %d\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", i+1, cases[i].title, r.State,
			strings.Join(slices.Compact(steps), " → "), made, deleted, post, end.Sub(r.CreatedAt).Round(100*time.Millisecond), note)
	}
	_ = tw.Flush()
}

// writeSamples puts the bundled images into root.
func writeSamples(root string) error {
	entries, err := samples.ReadDir("samples")
	if err != nil {
		return err
	}
	for _, e := range entries {
		b, err := samples.ReadFile("samples/" + e.Name())
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(root, e.Name()), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

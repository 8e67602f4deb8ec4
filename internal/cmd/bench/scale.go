package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
)

// The scale phase (-scale): Redis filled with a million finished and a
// hundred thousand pending publications, written straight through the
// store as copies of a few real pipelines' records of realistic shapes
// (scaleShapes: 1–3 media, captions from a line to a paragraph, labels,
// 1–3 profiles; tasks.Client.SeedCopies), created over the retention's
// 7 days, not run. Then what a person and the sweep see at that size: the bytes
// each record costs, list pages, reads, one sweep.

type scaleOptions struct {
	on                bool
	finished, pending int
	samples           int
}

func scaleFlags(fs *flag.FlagSet, o *scaleOptions) {
	fs.BoolVar(&o.on, "scale", false, "run only the scale phase: fill Redis with -scale-finished finished and -scale-pending pending records, then measure list pages, reads and a sweep")
	fs.IntVar(&o.finished, "scale-finished", 1_000_000, "finished records of the scale phase")
	fs.IntVar(&o.pending, "scale-pending", 100_000, "pending records (with their asynq tasks) of the scale phase")
	fs.IntVar(&o.samples, "scale-samples", 300, "timed calls per figure of the scale phase")
}

type scaleResult struct {
	finished, pending   int
	finishedBytes       int64 // used_memory growth while the finished copies were written
	pendingBytes        int64
	seedFinished        time.Duration
	seedPending         time.Duration
	firstPage, filtered []time.Duration // sorted
	get                 []time.Duration // sorted
	sweep               tasks.SweepResult
	sweepTook           time.Duration
	slowest             time.Duration // longest command during the sweep (SLOWLOG)
	slowestCmd          string
	slowOver10ms        int
	usedMemory          int64
}

type scaleSummary struct {
	Finished              int     `json:"finished"`
	Pending               int     `json:"pending"`
	BytesPerFinished      float64 `json:"redis_bytes_per_finished"`
	BytesPerPending       float64 `json:"redis_bytes_per_pending"`
	UsedMemoryMiB         float64 `json:"used_memory_mib"`
	ListFirstPageP50ms    float64 `json:"list_first_page_p50_ms"`
	ListFirstPageP99ms    float64 `json:"list_first_page_p99_ms"`
	ListFilteredP50ms     float64 `json:"list_filtered_p50_ms"`
	ListFilteredP99ms     float64 `json:"list_filtered_p99_ms"`
	GetP50ms              float64 `json:"get_p50_ms"`
	GetP99ms              float64 `json:"get_p99_ms"`
	SweepMs               float64 `json:"sweep_ms"`
	SweepDeleted          int     `json:"sweep_retention_deleted"`
	SweepWithinBudget     bool    `json:"sweep_within_budget"`
	SweepLongestCommandMs float64 `json:"sweep_longest_command_ms"`
	SweepLongestCommand   string  `json:"sweep_longest_command"`
	SweepCommandsOver10ms int     `json:"sweep_commands_over_10ms"`
	SeedSeconds           float64 `json:"seed_seconds"`
}

func (r *scaleResult) summary() *scaleSummary {
	if r == nil {
		return nil
	}
	return &scaleSummary{
		Finished: r.finished, Pending: r.pending,
		BytesPerFinished:      round(float64(r.finishedBytes)/float64(max(r.finished, 1)), 0),
		BytesPerPending:       round(float64(r.pendingBytes)/float64(max(r.pending, 1)), 0),
		UsedMemoryMiB:         round(float64(r.usedMemory)/(1<<20), 1),
		ListFirstPageP50ms:    round(ms(percentile(r.firstPage, 50)), 2),
		ListFirstPageP99ms:    round(ms(percentile(r.firstPage, 99)), 2),
		ListFilteredP50ms:     round(ms(percentile(r.filtered, 50)), 2),
		ListFilteredP99ms:     round(ms(percentile(r.filtered, 99)), 2),
		GetP50ms:              round(ms(percentile(r.get, 50)), 2),
		GetP99ms:              round(ms(percentile(r.get, 99)), 2),
		SweepMs:               round(ms(r.sweepTook), 1),
		SweepDeleted:          r.sweep.RetentionDeleted,
		SweepWithinBudget:     !r.sweep.RetentionLeft,
		SweepLongestCommandMs: round(ms(r.slowest), 2),
		SweepLongestCommand:   r.slowestCmd,
		SweepCommandsOver10ms: r.slowOver10ms,
		SeedSeconds:           round((r.seedFinished + r.seedPending).Seconds(), 1),
	}
}

func (r *scaleResult) print(w io.Writer) {
	s := r.summary()
	if s == nil {
		return
	}
	fmt.Fprintf(w, "\nscale: %d finished + %d pending records (seeded in %.0f s), Redis used_memory %.0f MiB\n", s.Finished, s.Pending, s.SeedSeconds, s.UsedMemoryMiB)
	fmt.Fprintf(w, "  Redis bytes per record: finished %.0f (target ≤ 1,024), pending %.0f with its asynq task (target ≤ 2,048)\n", s.BytesPerFinished, s.BytesPerPending)
	fmt.Fprintf(w, "  list, first page: p50 %.2f ms, p99 %.2f ms (target p99 ≤ 50 ms)\n", s.ListFirstPageP50ms, s.ListFirstPageP99ms)
	fmt.Fprintf(w, "  list, succeeded in a one-day range, page at a random cursor: p50 %.2f ms, p99 %.2f ms (target p99 ≤ 200 ms)\n", s.ListFilteredP50ms, s.ListFilteredP99ms)
	fmt.Fprintf(w, "  Client.Get: p50 %.2f ms, p99 %.2f ms (target p99 ≤ 5 ms)\n", s.GetP50ms, s.GetP99ms)
	budget := "within its budget"
	if !s.SweepWithinBudget {
		budget = "its budget ran out with records left"
	}
	fmt.Fprintf(w, "  one sweep: %.0f ms, %s, %d records past retention deleted; longest Redis command %.2f ms (%s), %d over 10 ms (target none)\n",
		s.SweepMs, budget, s.SweepDeleted, s.SweepLongestCommandMs, s.SweepLongestCommand, s.SweepCommandsOver10ms)
}

// runScale fills Redis and measures. Retention is the worker's default
// (7 days): the finished copies were created over the last 7 days and
// 10 minutes, so one sweep finds about a sweep period's worth past it,
// as a worker publishing at this rate would. The pending ones were
// accepted in the last minute: not yet due for the sweep.
func runScale(ctx context.Context, rc redis.UniversalClient, o options, progress func(string, ...any)) (*scaleResult, error) {
	so := o.scale
	res := &scaleResult{finished: so.finished, pending: so.pending}
	finishedIDs, pendingIDs, err := scaleTemplates(ctx, rc, o)
	if err != nil {
		return nil, fmt.Errorf("scale templates: %w", err)
	}
	c := tasks.NewClient(rc, tasks.WithTiming(o.timing))
	defer c.Close()
	now := time.Now()
	span := tasks.DefaultTiming.Retention + 10*time.Minute
	created := make([]time.Time, so.finished)
	for i := range created {
		// Oldest first, as they would have been written.
		created[i] = now.Add(-span + time.Duration(float64(span)*float64(i)/float64(so.finished)))
	}
	mem0, err := usedMemory(ctx, rc)
	if err != nil {
		return nil, err
	}
	progress("scale: writing %d finished records", so.finished)
	start := time.Now()
	finishedIDs, err = c.SeedCopies(ctx, finishedIDs, created, false)
	if err != nil {
		return nil, err
	}
	res.seedFinished = time.Since(start)
	mem1, err := usedMemory(ctx, rc)
	if err != nil {
		return nil, err
	}
	res.finishedBytes = mem1 - mem0
	created = make([]time.Time, so.pending)
	now = time.Now()
	for i := range created {
		created[i] = now.Add(-time.Minute + time.Duration(float64(time.Minute)*float64(i)/float64(max(so.pending, 1))))
	}
	progress("scale: writing %d pending records and their first tasks", so.pending)
	start = time.Now()
	pendingIDs, err = c.SeedCopies(ctx, pendingIDs, created, true)
	if err != nil {
		return nil, err
	}
	res.seedPending = time.Since(start)
	mem2, err := usedMemory(ctx, rc)
	if err != nil {
		return nil, err
	}
	res.pendingBytes, res.usedMemory = mem2-mem1, mem2

	progress("scale: list pages, reads")
	for range so.samples {
		t := time.Now()
		if _, err := c.List(ctx, tasks.ListOptions{}); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
		res.firstPage = append(res.firstPage, time.Since(t))
	}
	for range so.samples {
		// A day's range somewhere in the week, and its second page (at a
		// cursor): the one timed.
		until := now.Add(-time.Duration(rand.Int64N(int64(6 * 24 * time.Hour))))
		opts := tasks.ListOptions{State: tasks.StateSucceeded, Since: until.Add(-24 * time.Hour), Until: until}
		page, err := c.List(ctx, opts)
		if err != nil {
			return nil, fmt.Errorf("list filtered: %w", err)
		}
		opts.Cursor = page.Next
		t := time.Now()
		if _, err := c.List(ctx, opts); err != nil {
			return nil, fmt.Errorf("list filtered, next page: %w", err)
		}
		res.filtered = append(res.filtered, time.Since(t))
	}
	for i := range so.samples * 3 {
		ids := finishedIDs
		if i%10 == 0 && len(pendingIDs) > 0 {
			ids = pendingIDs
		}
		id := ids[rand.IntN(len(ids))]
		t := time.Now()
		if _, err := c.Get(ctx, id); err != nil {
			return nil, fmt.Errorf("get %s: %w", id, err)
		}
		res.get = append(res.get, time.Since(t))
	}
	slices.Sort(res.firstPage)
	slices.Sort(res.filtered)
	slices.Sort(res.get)

	progress("scale: one sweep")
	if err := res.timeSweep(ctx, rc, o); err != nil {
		return nil, err
	}
	return res, nil
}

// scaleShape is one kind of publication the scale phase copies: how many
// media and profiles, how long a caption, which labels, and how many
// copies of every scaleWeights it takes.
type scaleShape struct {
	media, profiles, captionWords int
	labels                        []string
	weight                        int
}

// scaleShapes are the publications a scale run is made of, in these
// proportions: most posts carry one image and a short caption, some two or
// three images, a long caption, labels, up to three profiles.
var scaleShapes = []scaleShape{
	{media: 1, profiles: 1, captionWords: 12, weight: 4},
	{media: 1, profiles: 2, captionWords: 40, labels: []string{"Evergreen"}, weight: 3},
	{media: 2, profiles: 2, captionWords: 25, labels: []string{"Launch 2026", "Promo"}, weight: 2},
	{media: 3, profiles: 3, captionWords: 80, labels: []string{"Campaign Q4"}, weight: 1},
}

// captionWords are what a template's caption is made of: plain words and
// hashtags, so it compresses like a person's text, not like random bytes.
var captionWords = strings.Fields(`new spring collection is here and we could not be more excited to share it
with you all link in bio for early access our team worked for months on every detail tell us your favourite
#launch #newarrivals #smallbusiness #behindthescenes 🎉 thank you for being part of this journey see you soon`)

// request is the template request of shape sh, the n-th made.
func (sh scaleShape) request(o options, profiles []string, files []string, n int) tasks.Request {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	words := make([]string, sh.captionWords)
	for i := range words {
		words[i] = captionWords[r.IntN(len(captionWords))]
	}
	req := tasks.Request{
		Post: &tasks.PostSpec{ProfileIDs: profiles[:min(sh.profiles, len(profiles))],
			Caption: strings.Join(words, " "), Labels: sh.labels},
		Action: tasks.ActionPublishNow,
	}
	for i := range sh.media {
		req.Media = append(req.Media, tasks.MediaSource{Source: files[i%len(files)]})
	}
	return req
}

// scaleTemplates runs one publishNow pipeline of each shape to its end
// (the finished templates) and accepts one more of each with no worker
// running (the pending templates, their first tasks left in asynq). Each
// list names a template as often as its shape's weight.
func scaleTemplates(ctx context.Context, rc redis.UniversalClient, o options) (finished, pending []string, err error) {
	files := []string{o.mediaFile}
	for i := 2; i <= 3; i++ {
		f := strings.TrimSuffix(o.mediaFile, ".png") + fmt.Sprintf("-%d.png", i)
		if err := writeImage(f, o.fileSize); err != nil {
			return nil, nil, err
		}
		files = append(files, f)
	}
	st, err := startStack(rc, o, o.workers, 0)
	if err != nil {
		return nil, nil, err
	}
	closed := false
	defer func() {
		if !closed {
			st.close()
		}
	}()
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for i, sh := range scaleShapes {
		rec, _, err := st.client.Publish(ctx, sh.request(o, st.profiles, files, i))
		if err != nil {
			return nil, nil, fmt.Errorf("template %d: %w", i, err)
		}
		done, err := st.client.Wait(waitCtx, rec.ID, 10*time.Millisecond, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("template %d: %w", i, err)
		}
		if done.State != tasks.StateSucceeded {
			return nil, nil, fmt.Errorf("template pipeline %s ended %s", done.ID, done.State)
		}
		for range sh.weight {
			finished = append(finished, rec.ID)
		}
	}
	// Their webhooks and cleanups are in: wait until they owe nothing more.
	time.Sleep(settle)
	profiles := st.profiles
	st.close()
	closed = true
	sources, err := source.New(source.Config{Root: o.mediaRoot})
	if err != nil {
		return nil, nil, err
	}
	c := tasks.NewClient(rc, tasks.WithSources(sources), tasks.WithTiming(o.timing))
	defer c.Close()
	for i, sh := range scaleShapes {
		p, _, err := c.Publish(ctx, sh.request(o, profiles, files, len(scaleShapes)+i))
		if err != nil {
			return nil, nil, fmt.Errorf("pending template %d: %w", i, err)
		}
		for range sh.weight {
			pending = append(pending, p.ID)
		}
	}
	return finished, pending, nil
}

// timeSweep runs one sweep's work (Worker.RunSweep, the worker never
// started: no task runs meanwhile) with SLOWLOG catching every command
// (slowlog-log-slower-than 0: nothing else runs meanwhile, so the log
// holds the sweep's commands and nothing else).
func (r *scaleResult) timeSweep(ctx context.Context, rc redis.UniversalClient, o options) error {
	api, err := swonkie.New(swonkie.Config{BaseURL: "http://127.0.0.1:1/v2", APIID: sandboxID, APIKey: sandboxKey})
	if err != nil {
		return err
	}
	sources, err := source.New(source.Config{Root: o.mediaRoot})
	if err != nil {
		return err
	}
	w, err := tasks.NewWorker(tasks.WorkerConfig{
		Redis: rc, API: api, Sources: sources, Logger: zerolog.New(io.Discard), Concurrency: 1, Queues: workerQueues,
	})
	if err != nil {
		return err
	}
	for _, kv := range [][2]string{{"slowlog-log-slower-than", "0"}, {"slowlog-max-len", "100000"}} {
		if err := rc.ConfigSet(ctx, kv[0], kv[1]).Err(); err != nil {
			return fmt.Errorf("CONFIG SET %s: %w", kv[0], err)
		}
	}
	if err := rc.Do(ctx, "SLOWLOG", "RESET").Err(); err != nil {
		return err
	}
	start := time.Now()
	r.sweep, err = w.RunSweep(ctx)
	r.sweepTook = time.Since(start)
	if err != nil {
		return fmt.Errorf("sweep: %w", err)
	}
	logs, err := rc.SlowLogGet(ctx, -1).Result()
	if err != nil {
		return err
	}
	for _, l := range logs {
		if l.Duration > 10*time.Millisecond {
			r.slowOver10ms++
		}
		if l.Duration > r.slowest {
			r.slowest = l.Duration
			r.slowestCmd = slowCommand(l.Args)
		}
	}
	if r.slowest == 0 {
		r.slowestCmd = "none"
	}
	return nil
}

// slowCommand names a SLOWLOG entry's command for a person: a script by
// the first bytes of its SHA1 (its body, which SLOWLOG cuts short, says
// nothing in a table), then the keys and first arguments.
func slowCommand(args []string) string {
	if len(args) > 1 && strings.EqualFold(args[0], "eval") {
		args = append([]string{"EVAL", "<script>"}, args[2:]...)
	}
	if len(args) > 1 && strings.EqualFold(args[0], "evalsha") {
		args = append([]string{"EVALSHA", args[1][:min(len(args[1]), 8)]}, args[2:]...)
	}
	return strings.Join(args[:min(len(args), 6)], " ")
}

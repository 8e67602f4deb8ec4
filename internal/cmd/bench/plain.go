package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/metrics"
	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// plainPayload is everything a plain chain carries from task to task in
// place of a pipeline record: the request and the ids made so far.
type plainPayload struct {
	ID         string   `json:"id"`
	Source     string   `json:"source"`
	ProfileIDs []string `json:"profileIds"`
	Caption    string   `json:"caption"`
	MediaID    string   `json:"mediaId,omitempty"`
	PostID     string   `json:"postId,omitempty"`
}

// errNotYet makes asynq run a polling step again later: the sandbox
// answers at once, so it only shows up as a problem in the report.
var errNotYet = errors.New("not ready yet")

// runPlain runs n publications as the plain asynq chain a team without
// mediaflow would write: one task per step of pipelineChain, each handler
// making that step's Swonkie calls with the same client against the same
// sandbox as mediaflow and enqueueing the next step with a task id, the
// same options, queues, concurrency and timers. There is no record: what
// a step learns travels in the next task's payload.
func runPlain(ctx context.Context, rc redis.UniversalClient, o options, n, concurrency int, profile func() func()) (baselineResult, error) {
	sb, err := sandbox.New(sandbox.Options{APIID: sandboxID, APIKey: sandboxKey, Seed: 1})
	if err != nil {
		return baselineResult{}, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return baselineResult{}, err
	}
	hs := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(l) }()
	defer hs.Close()
	profiles := postProfiles(sb)
	// The API client mediaflow's worker gets, instrumented transport
	// included, so the two sides differ only in what runs around the calls.
	m := metrics.New(metrics.Options{Version: "bench"})
	api, err := swonkie.New(swonkie.Config{
		BaseURL: "http://" + l.Addr().String() + "/v2", APIID: sandboxID, APIKey: sandboxKey,
		UserAgent: "mediaflow-bench", RateLimit: rate.Inf,
		MaxConns: concurrency, Instrument: m.InstrumentTransport,
	})
	if err != nil {
		return baselineResult{}, err
	}
	sources, err := source.New(source.Config{Root: o.mediaRoot})
	if err != nil {
		return baselineResult{}, err
	}

	chain := pipelineChain(o.timing)
	enq := asynq.NewClientFromRedisClient(rc)
	defer enq.Close()
	enqueue := func(ctx context.Context, i int, pl plainPayload) error {
		return chain[i].enqueue(ctx, enq, pl.ID, pl, o.timing.MaxRetry)
	}

	var executed, done, retried atomic.Int64
	var firstErr atomic.Value
	finished := make(chan time.Time, 1)
	// Pre-flight's work without a record: probe the file, check it
	// against the rules of the profiles' networks.
	rules := publishrules.Default()
	var nets []string
	for _, p := range sb.Profiles() {
		if slices.Contains(profiles[:2], p.ID) {
			nets = append(nets, p.Net.Code)
		}
	}
	steps := map[string]func(context.Context, *plainPayload) error{
		tasks.TypePreflight: func(ctx context.Context, pl *plainPayload) error {
			pr, err := sources.Probe(ctx, pl.Source, source.Hint{})
			if err != nil {
				return fmt.Errorf("preflight: probe %s: %w", pl.Source, err)
			}
			post := publishrules.Post{Type: string(swonkie.PostMedia), Networks: nets, Captions: []publishrules.Caption{{Text: pl.Caption}},
				Media: []publishrules.Media{{Name: pr.Name, Size: pr.Size, Info: pr.Info}}}
			for _, f := range rules.Check(post) {
				if f.Severity == publishrules.Error {
					return fmt.Errorf("preflight: %s", f.Message)
				}
			}
			return nil
		},
		tasks.TypeMediaUpload: func(ctx context.Context, pl *plainPayload) error {
			src, err := sources.Open(ctx, pl.Source, source.Hint{})
			if err != nil {
				return fmt.Errorf("upload: open %s: %w", pl.Source, err)
			}
			defer src.Close()
			created, err := api.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: src.Name, FileSize: src.Size})
			if err != nil {
				return fmt.Errorf("upload: create media: %w", err)
			}
			if err := api.UploadMedia(ctx, created.UploadURL, src, src.Size, src.ContentType); err != nil {
				return fmt.Errorf("upload: media %s: %w", created.MediaID, err)
			}
			pl.MediaID = created.MediaID
			return nil
		},
		tasks.TypeMediaConfirm: func(ctx context.Context, pl *plainPayload) error {
			m, err := api.ConfirmMedia(ctx, pl.MediaID)
			if err != nil {
				return fmt.Errorf("confirm media %s: %w", pl.MediaID, err)
			}
			if m == nil || !m.Status.Ready() {
				if m, err = api.GetMedia(ctx, pl.MediaID); err != nil {
					return fmt.Errorf("confirm: read media %s: %w", pl.MediaID, err)
				}
			}
			if !m.Status.Ready() {
				return fmt.Errorf("confirm: media %s is %s: %w", pl.MediaID, m.Status, errNotYet)
			}
			return nil
		},
		tasks.TypePostAttach: func(ctx context.Context, pl *plainPayload) error {
			post, err := api.CreatePost(ctx, swonkie.PostInput{
				Type:       swonkie.PostMedia,
				ProfileIDs: pl.ProfileIDs,
				Medias:     []swonkie.MediaGroup{{MediaFiles: []swonkie.MediaFile{{MediaLibID: pl.MediaID}}}},
				Captions:   []swonkie.Caption{{PlainText: pl.Caption}},
				Briefing:   &swonkie.Briefing{Markdown: "Created by mediaflow.\n\n" + tasks.Marker(pl.ID)},
			})
			if err != nil {
				return fmt.Errorf("attach: create post: %w", err)
			}
			pl.PostID = post.ID
			// mediaflow asks Swonkie's verdict before publishing.
			if v, err := api.ValidatePost(ctx, post.ID); err != nil || !v.Valid {
				return fmt.Errorf("attach: validate post %s: %+v, %w", post.ID, v, err)
			}
			change, err := api.ChangeStage(ctx, post.ID, swonkie.ActionPublishNow)
			if err != nil {
				return fmt.Errorf("attach: publish post %s: %w", post.ID, err)
			}
			// mediaflow reads the post back when the answer does not name
			// the new stage (the sandbox's strict answer does not): so
			// does this chain, to make the same calls.
			if change.Stage == "" {
				if _, err := api.GetPost(ctx, post.ID); err != nil {
					return fmt.Errorf("attach: read post %s: %w", post.ID, err)
				}
			}
			return nil
		},
		tasks.TypePostWatch: func(ctx context.Context, pl *plainPayload) error {
			post, err := api.GetPost(ctx, pl.PostID)
			if err != nil {
				return fmt.Errorf("watch post %s: %w", pl.PostID, err)
			}
			if post.Stage != swonkie.StagePublished {
				return fmt.Errorf("watch: post %s is %s: %w", pl.PostID, post.Stage, errNotYet)
			}
			return nil
		},
		tasks.TypeMediaCleanup: func(ctx context.Context, pl *plainPayload) error {
			if err := api.DeleteMedia(ctx, pl.MediaID); err != nil && !swonkie.IsNotFound(err) {
				return fmt.Errorf("cleanup: delete media %s: %w", pl.MediaID, err)
			}
			return nil
		},
	}
	mux := asynq.NewServeMux()
	for i, s := range chain {
		do := steps[s.typ]
		mux.HandleFunc(s.typ, func(ctx context.Context, t *asynq.Task) error {
			executed.Add(1)
			var pl plainPayload
			if err := json.Unmarshal(t.Payload(), &pl); err != nil {
				return fmt.Errorf("%s: payload: %w: %w", s.typ, err, asynq.SkipRetry)
			}
			if err := do(ctx, &pl); err != nil {
				retried.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return err
			}
			if i+1 < len(chain) {
				return enqueue(ctx, i+1, pl)
			}
			if done.Add(1) == int64(n) {
				finished <- time.Now()
			}
			return nil
		})
	}
	srv, err := startChainServer(rc, concurrency, o, mux)
	if err != nil {
		return baselineResult{}, err
	}
	defer srv.Shutdown()

	stop := profile()
	before, err := snapRedis(ctx, rc)
	if err != nil {
		stop()
		return baselineResult{}, err
	}
	cpu0 := cpuTime()
	busy0, total0 := machineCPU()
	start := time.Now()
	err = fanOut(o.publishers, n, func(i int) error {
		return enqueue(ctx, 0, plainPayload{
			ID: uuid.Must(uuid.NewV7()).String(), Source: o.mediaFile,
			ProfileIDs: profiles[:2], Caption: fmt.Sprintf("mediaflow bench post %d", i),
		})
	})
	if err != nil {
		stop()
		return baselineResult{}, fmt.Errorf("plain chain: enqueue the first tasks: %w", err)
	}
	var end time.Time
	select {
	case end = <-finished:
	case <-time.After(o.timeout):
		stop()
		return baselineResult{}, fmt.Errorf("plain chain: %d of %d chains done after %s (first step error: %v)", done.Load(), n, o.timeout, firstErr.Load())
	}
	cpu := cpuTime() - cpu0
	busy1, total1 := machineCPU()
	time.Sleep(settle)
	after, err := snapRedis(ctx, rc)
	stop()
	if err != nil {
		return baselineResult{}, err
	}
	res := baselineResult{
		concurrency: concurrency,
		chains:      n, tasks: int(executed.Load()), elapsed: end.Sub(start),
		cmds: after.since(before), cpu: cpu, redisCPU: after.cpu - before.cpu,
		machineBusy: share(busy1-busy0, total1-total0),
		apiCalls: int(counterSum(m, "mediaflow_swonkie_requests_total", func(l map[string]string) bool {
			return l["endpoint"] != swonkie.UploadEndpoint
		})),
	}
	if r := retried.Load(); r > 0 {
		res.problems = append(res.problems, fmt.Sprintf("plain chain: %d step runs failed and were retried (the first: %v)", r, firstErr.Load()))
	}
	s := sb.Stats()
	if len(s.Media.Orphaned) > 0 {
		res.problems = append(res.problems, fmt.Sprintf("plain chain: %d media left on the sandbox", len(s.Media.Orphaned)))
	}
	return res, nil
}

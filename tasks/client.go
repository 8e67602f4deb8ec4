package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/trace"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tracing"
)

// Client is the Go API for handing mediaflow work and following it: the
// enqueue CLI and the HTTP API are thin layers over it. It needs only
// Redis; the workers do the rest.
type Client struct {
	store     *store
	enq       *asynq.Client
	timing    Timing
	check     CheckSource
	checkHook CheckSource
	supported ContentTypeSupported
	tracer    trace.Tracer
	// Pre-flight (client_check.go): whether pipelines start with it, the
	// checker the dry run and the profile check at enqueue use.
	noPreflight bool
	probeRemote bool
	checker     preflightChecker
	// refreshAPIs are the workspaces' clients the dry run may refresh a
	// profile directory with (WithProfileRefresh).
	refreshAPIs map[string]*swonkie.Client
	bulk        bulkRuns
	// workspaces are those requests may name (workspace.go).
	workspaces workspaceNames
}

// ClientOption configures a Client.
type ClientOption func(*Client)

// WithSourceCheck validates media sources at enqueue time (pass the
// worker's source.Opener Check, so a file outside MEDIA_ROOT is refused
// before anything is queued) and declared content types.
func WithSourceCheck(check CheckSource, supported ContentTypeSupported) ClientOption {
	return func(c *Client) { c.check, c.supported = check, supported }
}

// WithSources validates media sources at enqueue time the way the worker
// will open them: scheme and confinement to MEDIA_ROOT for every source,
// and, for local files, that they can be read and are an image or video
// Swonkie takes. Remote URLs are not fetched at enqueue time unless
// WithRemoteSourceCheck asks.
func WithSources(o *source.Opener) ClientOption {
	return func(c *Client) {
		c.checker.sources = o
		c.supported = source.Supported
		c.checkHook = o.CheckEndpoint
		c.check = func(src string) error {
			if err := o.Check(src); err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if isRemote(src) {
				if c.probeRemote {
					return remoteNeverWorks(ctx, o, src)
				}
				return nil
			}
			m, err := o.Open(ctx, src, source.Hint{})
			if err != nil {
				return err
			}
			defer m.Close()
			if !source.Supported(m.ContentType) {
				return fmt.Errorf("%s is %s, not an image or video type Swonkie publishes", src, m.ContentType)
			}
			return nil
		}
	}
}

// WithMediaRoot is WithSources for a client that has no opener of its own
// (the enqueue CLI): local files must lie under root, "" refuses them.
func WithMediaRoot(root string) (ClientOption, error) {
	o, err := source.New(source.Config{Root: root})
	if err != nil {
		return nil, err
	}
	return WithSources(o), nil
}

func isRemote(src string) bool {
	l := strings.ToLower(src)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

// WithTiming sets the timing the client enqueues with (retry budgets,
// timeouts, the minimum lead to schedule); the default is DefaultTiming.
func WithTiming(t Timing) ClientOption {
	return func(c *Client) { c.timing = t.withDefaults() }
}

// WithTracerProvider sets where the spans of Publish, Cancel and
// Redeliver go; the default is the global provider (otel), a no-op until
// a program installs an SDK. A pipeline's trace starts in Publish, under
// the span of ctx when there is one (the HTTP API's server span, which
// continues the caller's traceparent).
func WithTracerProvider(tp trace.TracerProvider) ClientOption {
	return func(c *Client) { c.tracer = tracerOf(tp) }
}

// NewClient returns a Client on r, which it shares and never closes.
func NewClient(r redis.UniversalClient, opts ...ClientOption) *Client {
	c := &Client{
		store:  newStore(rdb.New(r, stateNames()), time.Now),
		enq:    asynq.NewClientFromRedisClient(r),
		timing: DefaultTiming,
		tracer: tracerOf(nil),
	}
	c.checker = preflightChecker{rules: publishrules.Default(), rdb: c.store.rdb, workspace: DefaultWorkspace, now: c.store.now}
	c.workspaces.reg = rdb.NewRegistry(r)
	for _, o := range opts {
		o(c)
	}
	return c
}

// Close releases the client (not the Redis client it was given). Bulk
// operations it runs in the background stop and are marked interrupted.
func (c *Client) Close() error {
	c.bulk.mu.Lock()
	for _, cancel := range c.bulk.cancel {
		cancel()
	}
	c.bulk.mu.Unlock()
	c.bulk.wg.Wait()
	return c.enq.Close()
}

// Namespace of the pipeline ids derived from idempotency keys.
var keyNamespace = uuid.MustParse("6f1c1d2e-3b7a-4c55-9a39-6d3f2b8e0a11")

// PipelineID is the id a request gets: derived from its idempotency key
// when it has one (so the same key always names the same pipeline, even
// from two processes at once), else a fresh time-ordered UUID.
func PipelineID(key string) string {
	if key != "" {
		return uuid.NewSHA1(keyNamespace, []byte(key)).String()
	}
	return uuid.Must(uuid.NewV7()).String()
}

// Publish validates req, stores its pipeline record and enqueues its first
// steps. A request whose key was seen before answers the existing
// pipeline (created=false) without enqueuing anything new, or
// ErrKeyReused if the request differs. Nothing is enqueued for an invalid
// request (*ValidationError).
//
// A retry of a request that was accepted answers its pipeline even when
// validating it again refuses it (its publishAt came within the minimum
// lead since the first try, a local file was moved): a refusal stands only
// once the key is known to name no pipeline of this same request. The key
// is looked up only then, so a request that passes costs no read.
func (c *Client) Publish(ctx context.Context, req Request) (rec *Record, created bool, err error) {
	ctx, span := c.tracer.Start(ctx, spanPublish)
	defer func() { endPublish(span, rec, created, err) }()
	req.normalize()
	if err := c.resolveWorkspace(ctx, &req); err != nil {
		return nil, false, err
	}
	fingerprint := req.fingerprint()
	now := c.store.now().UTC()
	err = req.validate(now, c.timing.MinScheduleLead, c.check, c.checkHook, c.supported)
	if err == nil || isValidation(err) {
		err = c.checkProfiles(ctx, &req, err)
	}
	if err != nil {
		stored, lerr := c.known(ctx, req.Key)
		switch {
		case lerr != nil:
			return nil, false, lerr
		case stored != nil && stored.fingerprint == fingerprint:
			rec, err := c.replay(ctx, stored, fingerprint)
			return rec, false, err
		}
		// A different request under a used key is told what is wrong
		// with it first; fixed, it meets ErrKeyReused.
		return nil, false, err
	}
	rec = &Record{
		ID:          PipelineID(req.Key),
		Key:         req.Key,
		Workspace:   req.Workspace,
		State:       StatePending,
		Step:        StepAccepted,
		Request:     req,
		fingerprint: fingerprint,
		Media:       make([]MediaItem, len(req.Media)),
		CreatedAt:   now,
		UpdatedAt:   now,
		trace:       tracing.Inject(ctx),
	}
	for i, m := range req.Media {
		rec.Media[i] = MediaItem{Source: m.Source, Name: m.Name, ContentType: m.ContentType, Status: ItemPending}
	}
	if req.Post != nil {
		rec.PostType = req.Post.Type
	}
	rec.in.PreflightOwed = !c.noPreflight
	rec.note(now, StepAccepted, nil, "ok", fmt.Sprintf("accepted %d media", len(req.Media)))
	// The due entry says since when: the sweep looks at the pipeline once
	// the workers' PENDING_KICK_AFTER has passed since then, whatever this
	// client's own timing says.
	stored, created, err := c.store.create(ctx, rec, now)
	if err != nil {
		return nil, false, err
	}
	if !created {
		rec, err := c.replay(ctx, stored, fingerprint)
		return rec, false, err
	}
	err = c.enqueueFirst(ctx, stored)
	return stored.public(), true, err
}

// known is the pipeline key names, or nil when there is none (or no key).
func (c *Client) known(ctx context.Context, key string) (*Record, error) {
	if key == "" {
		return nil, nil
	}
	stored, err := c.store.get(ctx, PipelineID(key))
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("look up key %q: %w", key, err)
	}
	return stored, nil
}

// replay answers a request under the key of stored: its pipeline if it is
// the same request, ErrKeyReused (with the pipeline) if not.
func (c *Client) replay(ctx context.Context, stored *Record, fingerprint string) (*Record, error) {
	if stored.fingerprint != fingerprint {
		return stored.public(), fmt.Errorf("key %q (pipeline %s): %w", stored.Key, stored.ID, ErrKeyReused)
	}
	if stored.State != StatePending {
		return stored.public(), nil
	}
	// Still pending: the first enqueue may have died with its process. Its
	// tasks belong in the pipeline's trace, not in this request's.
	ctx, span := startFor(ctx, c.tracer, stored, c.store.now(), spanPublish)
	err := c.enqueueFirst(ctx, stored)
	tracing.End(span, err)
	return stored.public(), err
}

// enqueueFirst enqueues the first steps of a pending pipeline. When it
// fails the record exists all the same, and the sweep enqueues them later.
func (c *Client) enqueueFirst(ctx context.Context, rec *Record) error {
	for _, n := range plan(rec, c.timing) {
		if err := enqueueNext(ctx, c.enq, c.timing, c.store.now(), n); err != nil {
			return err
		}
	}
	return nil
}

// Get returns a pipeline's record with its history (ErrNotFound when
// there is none).
func (c *Client) Get(ctx context.Context, id string) (*Record, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", id, ErrNotFound)
	}
	rec, err := c.store.getFull(ctx, id)
	if err != nil {
		return nil, err
	}
	return rec.public(), nil
}

// Ping checks that the store's scripts run on this Redis (readiness).
func (c *Client) Ping(ctx context.Context) error { return c.store.rdb.Ping(ctx) }

// ListOptions select a page of records.
type ListOptions struct {
	State  State  // "" for every state
	Limit  int    // default 20, at most 100
	Cursor string // from the previous page's Next
	// Since and Until keep the records created in that range (either
	// end inclusive, a zero time leaves it open).
	Since, Until time.Time
	// Workspace, when set, keeps only that workspace's pipelines; In,
	// when not nil, only those of the workspaces it names (a scoped
	// token's). A filtered page may hold fewer than Limit records, even
	// none, and still have a Next (list_filter.go).
	Workspace string
	In        []string
}

// RecordPage is one page of records, newest first.
type RecordPage struct {
	Records []*Record `json:"records"`
	// Next is the cursor of the following page; empty on the last one.
	Next string `json:"next,omitempty"`
}

// MaxListLimit caps a page.
const MaxListLimit = 100

// List returns records newest first.
func (c *Client) List(ctx context.Context, o ListOptions) (*RecordPage, error) {
	if o.State != "" && !validState(o.State) {
		return nil, &ValidationError{Problems: []Problem{{Field: "state", Message: fmt.Sprintf("unknown state %q", o.State)}}}
	}
	switch {
	case o.Limit <= 0:
		o.Limit = 20
	case o.Limit > MaxListLimit:
		o.Limit = MaxListLimit
	}
	recs, next, err := c.listFiltered(ctx, o)
	if err != nil {
		return nil, err
	}
	page := &RecordPage{Records: make([]*Record, len(recs)), Next: next}
	for i, r := range recs {
		page.Records[i] = r.public()
	}
	return page, nil
}

func validState(s State) bool {
	for _, x := range States {
		if x == s {
			return true
		}
	}
	return false
}

// Cancel stops a pipeline whose post is not published yet: a step running
// for it is interrupted, steps still to run do nothing, its post is
// withdrawn and its media deleted, then it ends cancelled. It returns
// ErrFinished for a pipeline that already ended and ErrAlreadyPublished
// when the post is out.
func (c *Client) Cancel(ctx context.Context, id string) (_ *Record, err error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", id, ErrNotFound)
	}
	rec, err := c.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	now := c.store.now().UTC()
	ctx, span := startFor(ctx, c.tracer, rec, now, spanCancel)
	defer func() { tracing.End(span, err) }()
	_, err = c.store.update(ctx, rec, func(r *Record) error {
		switch {
		case r.State.Terminal():
			return fmt.Errorf("cancel pipeline %s (%s): %w", r.ID, r.State, ErrFinished)
		case r.PublishedAt != nil:
			return fmt.Errorf("cancel pipeline %s: %w", r.ID, ErrAlreadyPublished)
		case r.CancelRequested:
			return errNoChange
		}
		r.CancelRequested = true
		r.note(now, r.Step, nil, "info", "cancel requested")
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Interrupt a step running for it. Should the message be lost, only
	// the interruption is: the step's next run skips a cancelled pipeline.
	_ = c.store.rdb.PublishCancel(ctx, rec.ID)
	for _, n := range plan(rec, c.timing) {
		if err := enqueueNext(ctx, c.enq, c.timing, c.store.now(), n); err != nil {
			return rec.public(), err
		}
	}
	return rec.public(), nil
}

// Redeliver sends a pipeline's last webhook event again, under the same
// webhook-id (receivers that saw it already drop it).
func (c *Client) Redeliver(ctx context.Context, id string) (_ *Record, err error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", id, ErrNotFound)
	}
	rec, err := c.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	ctx, span := startFor(ctx, c.tracer, rec, c.store.now(), spanRedeliver)
	defer func() { tracing.End(span, err) }()
	_, err = c.store.update(ctx, rec, func(r *Record) error {
		if r.Webhook == nil || len(r.Webhook.Events) == 0 {
			return fmt.Errorf("redeliver for pipeline %s: %w", r.ID, ErrNoWebhook)
		}
		n := &r.Webhook.Events[len(r.Webhook.Events)-1]
		if n.State == DeliveryPending {
			return errNoChange // on its way already
		}
		n.State, n.LastError = DeliveryPending, ""
		n.Redeliveries++
		// Retried for WEBHOOK_RETRY_FOR from now (noticeMadeAt): the
		// event's own time may be long past it.
		now := c.store.now().UTC()
		n.RedeliveredAt = &now
		r.Webhook.summarize()
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, n := range notifyNext(rec) {
		if err := enqueueNext(ctx, c.enq, c.timing, c.store.now(), n); err != nil {
			return rec.public(), err
		}
	}
	return rec.public(), nil
}

// Wait polls a pipeline until it reaches a terminal state or ctx ends,
// calling onChange (when not nil) each time its record changed.
func (c *Client) Wait(ctx context.Context, id string, every time.Duration, onChange func(*Record)) (*Record, error) {
	if every <= 0 {
		every = 500 * time.Millisecond
	}
	var last time.Time
	for {
		rec, err := c.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if onChange != nil && !rec.UpdatedAt.Equal(last) {
			last = rec.UpdatedAt
			onChange(rec)
		}
		if rec.State.Terminal() {
			return rec, nil
		}
		select {
		case <-ctx.Done():
			return rec, ctx.Err()
		case <-time.After(every):
		}
	}
}

// Sweeps returns the results of the last sweeps, newest first.
func (c *Client) Sweeps(ctx context.Context) ([]SweepResult, error) {
	raw, err := c.store.rdb.Sweeps(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]SweepResult, 0, len(raw))
	for _, s := range raw {
		var r SweepResult
		if err := json.Unmarshal([]byte(s), &r); err == nil {
			out = append(out, r)
		}
	}
	return out, nil
}

// IsNotFound reports ErrNotFound.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

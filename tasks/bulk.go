package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/mediaflow/mediaflow/internal/rdb"
)

// BulkAction is what a bulk operation does to each pipeline it matches.
type BulkAction string

// Bulk actions.
const (
	BulkCancel     BulkAction = "cancel"
	BulkReplay     BulkAction = "replay"
	BulkReschedule BulkAction = "reschedule"
	BulkRedeliver  BulkAction = "redeliver"
)

// MaxBulk is how many pipelines one operation acts on at most.
const MaxBulk = 10000

// bulkBatch is how many records one round of an operation reads: one
// bounded ZRANGE per shard and one pipeline of bounded size, so no Redis
// command of an operation runs long, and the workers' commands go in
// between rounds.
const bulkBatch = 100

// BulkFilter selects pipelines; every field given must match.
type BulkFilter struct {
	// States: any of them (none: every state).
	States    []State `json:"states,omitempty"`
	KeyPrefix string  `json:"keyPrefix,omitempty"`
	// Label is a label name (post.labels) or id (post.labelIds).
	Label   string `json:"label,omitempty"`
	Profile string `json:"profile,omitempty"`
	// Workspace: the pipelines of this workspace only (the HTTP API sets
	// it for a token scoped to one).
	Workspace string `json:"workspace,omitempty"`
	// CreatedFrom ≤ createdAt < CreatedTo; PublishAtFrom ≤ post.publishAt
	// < PublishAtTo (a pipeline without publishAt does not match a
	// publishAt range).
	CreatedFrom   *time.Time `json:"createdFrom,omitempty"`
	CreatedTo     *time.Time `json:"createdTo,omitempty"`
	PublishAtFrom *time.Time `json:"publishAtFrom,omitempty"`
	PublishAtTo   *time.Time `json:"publishAtTo,omitempty"`
}

// BulkRequest is one bulk operation: an action on every pipeline a filter
// matches.
type BulkRequest struct {
	Action BulkAction `json:"action"`
	Filter BulkFilter `json:"filter"`
	// Shift moves each publishAt by a Go duration ("2h", "-30m"); At sets
	// it. One of them, for reschedule only.
	Shift string     `json:"shift,omitempty"`
	At    *time.Time `json:"at,omitempty"`
	// DryRun only counts the matches.
	DryRun bool `json:"dryRun,omitempty"`
}

// Operation is a bulk operation's progress. Matched counts the pipelines
// the filter matched so far (all of them once it is done); each of them
// is done, skipped (with its reason) or failed.
type Operation struct {
	ID      string      `json:"id"`
	Request BulkRequest `json:"request"`
	Who     string      `json:"who,omitempty"`
	// State is running, done or interrupted (the process that ran it
	// stopped; what it did stands, and running it again skips that).
	State   string         `json:"state"`
	Matched int            `json:"matched"`
	Done    int            `json:"done"`
	Skipped map[string]int `json:"skipped"`
	Failed  int            `json:"failed"`
	// Errors are the first failures, by pipeline.
	Errors     []OperationError `json:"errors,omitempty"`
	StartedAt  time.Time        `json:"startedAt"`
	UpdatedAt  time.Time        `json:"updatedAt"`
	FinishedAt *time.Time       `json:"finishedAt,omitempty"`
}

// OperationError is why the operation failed on one pipeline.
type OperationError struct {
	PipelineID string `json:"pipelineId"`
	Message    string `json:"message"`
}

// Operation states.
const (
	OperationRunning     = "running"
	OperationDone        = "done"
	OperationInterrupted = "interrupted"
)

// operationTTL is how long an operation's progress is kept after its
// last write.
const operationTTL = 7 * 24 * time.Hour

const maxOperationErrors = 20

// ErrOperationNotFound is returned for an operation id nobody started
// (or whose progress expired).
var ErrOperationNotFound = errors.New("operation not found")

// validate checks a bulk request before anything runs.
func (b *BulkRequest) validate() error {
	var ps []Problem
	add := func(f, format string, a ...any) {
		ps = append(ps, Problem{Field: f, Message: fmt.Sprintf(format, a...)})
	}
	switch b.Action {
	case BulkCancel, BulkReplay, BulkRedeliver:
		if b.Shift != "" || b.At != nil {
			add("shift", "only reschedule takes shift or at")
		}
	case BulkReschedule:
		switch {
		case b.Shift == "" && b.At == nil:
			add("shift", "reschedule needs shift (a duration such as 2h or -30m) or at")
		case b.Shift != "" && b.At != nil:
			add("at", "give shift or at, not both")
		case b.Shift != "":
			if d, err := time.ParseDuration(b.Shift); err != nil || d == 0 {
				add("shift", "want a non-zero duration such as 2h or -30m, got %q", b.Shift)
			}
		}
	default:
		add("action", "must be cancel, replay, reschedule or redeliver, got %q", b.Action)
	}
	for i, s := range b.Filter.States {
		if !validState(s) {
			add(fmt.Sprintf("filter.states[%d]", i), "unknown state %q", s)
		}
	}
	if len(ps) > 0 {
		return &ValidationError{Problems: ps}
	}
	return nil
}

// matches reports whether r is one of the pipelines f selects.
func (f *BulkFilter) matches(r *Record) bool {
	if len(f.States) > 0 && !slices.Contains(f.States, r.State) {
		return false
	}
	if f.KeyPrefix != "" && !strings.HasPrefix(r.Key, f.KeyPrefix) {
		return false
	}
	if f.Workspace != "" && workspaceOf(r) != f.Workspace {
		return false
	}
	p := r.Request.Post
	if f.Label != "" && !(slices.Contains(r.LabelIDs, f.Label) || p != nil && (slices.Contains(p.Labels, f.Label) || slices.Contains(p.LabelIDs, f.Label))) {
		return false
	}
	if f.Profile != "" && (p == nil || !slices.Contains(p.ProfileIDs, f.Profile)) {
		return false
	}
	if f.CreatedFrom != nil && r.CreatedAt.Before(*f.CreatedFrom) || f.CreatedTo != nil && !r.CreatedAt.Before(*f.CreatedTo) {
		return false
	}
	if f.PublishAtFrom != nil || f.PublishAtTo != nil {
		if p == nil || p.PublishAt == nil {
			return false
		}
		if f.PublishAtFrom != nil && p.PublishAt.Before(*f.PublishAtFrom) || f.PublishAtTo != nil && !p.PublishAt.Before(*f.PublishAtTo) {
			return false
		}
	}
	return true
}

// bulkRuns are the operations this client runs in the background, so
// Close can stop them and say so.
type bulkRuns struct {
	mu     sync.Mutex
	wg     sync.WaitGroup
	cancel []context.CancelFunc
}

// StartBulk checks req, records the operation and runs it in the
// background of this process (the HTTP API's); it returns at once. Follow
// it with Operation. Should the process stop first, the operation is
// marked interrupted; what it did stands, and running it again finds
// those pipelines done (skipped).
func (c *Client) StartBulk(ctx context.Context, req BulkRequest, who string) (*Operation, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	op := c.newOperation(req, who)
	if err := c.saveOperation(ctx, op); err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c.bulk.mu.Lock()
	c.bulk.cancel = append(c.bulk.cancel, cancel)
	c.bulk.wg.Add(1)
	c.bulk.mu.Unlock()
	snapshot := *op
	go func() {
		defer c.bulk.wg.Done()
		defer cancel()
		_ = c.runBulk(runCtx, op, nil)
	}()
	return &snapshot, nil
}

// RunBulk runs a bulk operation here and now (the CLI), calling progress
// (when not nil) after each round. It returns the operation as it ended.
func (c *Client) RunBulk(ctx context.Context, req BulkRequest, who string, progress func(Operation)) (*Operation, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	op := c.newOperation(req, who)
	if err := c.saveOperation(ctx, op); err != nil {
		return nil, err
	}
	err := c.runBulk(ctx, op, progress)
	return op, err
}

// Operation reads a bulk operation's progress.
func (c *Client) Operation(ctx context.Context, id string) (*Operation, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("operation %q: %w", id, ErrOperationNotFound)
	}
	b, err := c.store.rdb.Operation(ctx, id)
	if errors.Is(err, rdb.ErrNotFound) {
		return nil, fmt.Errorf("operation %s: %w", id, ErrOperationNotFound)
	}
	if err != nil {
		return nil, err
	}
	var op Operation
	if err := json.Unmarshal(b, &op); err != nil {
		return nil, fmt.Errorf("operation %s is not valid JSON: %w", id, err)
	}
	return &op, nil
}

func (c *Client) newOperation(req BulkRequest, who string) *Operation {
	now := c.store.now().UTC()
	if who == "" {
		who = "someone"
	}
	return &Operation{ID: uuid.Must(uuid.NewV7()).String(), Request: req, Who: who, State: OperationRunning,
		Skipped: map[string]int{}, StartedAt: now, UpdatedAt: now}
}

func (c *Client) saveOperation(ctx context.Context, op *Operation) error {
	op.UpdatedAt = c.store.now().UTC()
	b, err := json.Marshal(op)
	if err != nil {
		return fmt.Errorf("encode operation %s: %w", op.ID, err)
	}
	return c.store.rdb.SaveOperation(ctx, op.ID, b, operationTTL)
}

// runBulk walks the records the filter may match, newest first, one
// bounded round at a time (bulkBatch records per state), and acts on each
// match with the same client call a person would make (Cancel, Replay,
// Edit, Redeliver), so every change is the same compare-and-set with the
// same refusals. A record seen twice (a replay moves it from failed to
// pending while pending is still to be walked) counts once.
func (c *Client) runBulk(ctx context.Context, op *Operation, progress func(Operation)) (err error) {
	defer func() {
		now := c.store.now().UTC()
		op.FinishedAt = &now
		op.State = OperationDone
		if err != nil {
			op.State = OperationInterrupted
		}
		// Written even when ctx ended: the operation's end must be known.
		if serr := c.saveOperation(context.WithoutCancel(ctx), op); serr != nil && err == nil {
			err = serr
		}
		if progress != nil {
			progress(*op)
		}
	}()
	states := []string{""}
	if len(op.Request.Filter.States) > 0 {
		states = states[:0]
		for _, s := range op.Request.Filter.States {
			states = append(states, string(s))
		}
	}
	seen := map[string]bool{}
	for _, state := range states {
		cursor := ""
		for {
			if err := ctx.Err(); err != nil {
				return err
			}
			page, err := c.store.rdb.List(ctx, state, cursor, bulkBatch)
			if err != nil {
				return err
			}
			entries, err := c.store.rdb.GetMany(ctx, page.IDs, false)
			if err != nil {
				return err
			}
			for _, e := range entries {
				r, err := decodeEntry(e)
				if err != nil || seen[r.ID] || !op.Request.Filter.matches(r) {
					continue
				}
				seen[r.ID] = true
				if op.Matched >= MaxBulk {
					op.Skipped[fmt.Sprintf("over the limit of %d per operation", MaxBulk)]++
					continue
				}
				op.Matched++
				if op.Request.DryRun {
					continue
				}
				c.bulkOne(ctx, op, r)
			}
			if err := c.saveOperation(ctx, op); err != nil {
				return err
			}
			if progress != nil {
				progress(*op)
			}
			if page.Next == "" {
				break
			}
			cursor = page.Next
		}
	}
	return nil
}

// bulkOne applies the operation to one pipeline and counts what became
// of it.
func (c *Client) bulkOne(ctx context.Context, op *Operation, r *Record) {
	var err error
	var rec *Record // the record the action wrote, when it did
	switch op.Request.Action {
	case BulkCancel:
		rec, err = c.Cancel(ctx, r.ID)
	case BulkReplay:
		rec, err = c.Replay(ctx, r.ID, Edit{}, op.who())
	case BulkRedeliver:
		rec, err = c.Redeliver(ctx, r.ID)
	case BulkReschedule:
		at, ok := op.Request.newPublishAt(r)
		if !ok {
			op.Skipped["no publishAt to shift"]++
			return
		}
		e := Edit{Post: &PostEdit{PublishAt: &at}}
		// A step acting on the post holds it for a moment: try again a
		// few times before counting it as skipped.
		for range 3 {
			rec, err = c.Edit(ctx, r.ID, e, op.who())
			if !errors.Is(err, ErrBusy) {
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
	if reason := skipReason(err); reason != "" {
		op.Skipped[reason]++
		return
	}
	// An action recorded whose tasks could not be enqueued is done: the
	// sweep enqueues what the record plans (the API answers it 202).
	if err != nil && rec == nil {
		op.Failed++
		if len(op.Errors) < maxOperationErrors {
			op.Errors = append(op.Errors, OperationError{PipelineID: r.ID, Message: err.Error()})
		}
		return
	}
	op.Done++
}

func (op *Operation) who() string { return "bulk operation " + op.ID + " by " + op.Who }

// newPublishAt is a rescheduled pipeline's new time.
func (b *BulkRequest) newPublishAt(r *Record) (time.Time, bool) {
	if b.At != nil {
		return b.At.UTC(), true
	}
	if r.Request.Post == nil || r.Request.Post.PublishAt == nil {
		return time.Time{}, false
	}
	d, _ := time.ParseDuration(b.Shift) // validated
	return r.Request.Post.PublishAt.Add(d).UTC(), true
}

// skipReason says why a pipeline was left as it was, "" when it was not
// (done, or failed).
func skipReason(err error) string {
	var invalid *ValidationError
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrFinished):
		return "finished"
	case errors.Is(err, ErrAlreadyPublished):
		return "published"
	case errors.Is(err, ErrNotReplayable):
		return "not failed or cancelled"
	case errors.Is(err, ErrNoWebhook):
		return "no webhook event"
	case errors.Is(err, ErrBusy):
		return "busy"
	case errors.As(err, &invalid):
		return "refused: " + invalid.Problems[0].Field + " invalid"
	}
	return ""
}

// DecodeBulk reads a bulk request strictly, as DecodeRequest reads a
// publish request: an unknown field is refused naming its path.
func DecodeBulk(b []byte) (BulkRequest, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return BulkRequest{}, errors.New("empty body: send a bulk request")
	}
	if err := checkKeys(b, reflect.TypeFor[BulkRequest]()); err != nil {
		return BulkRequest{}, err
	}
	var req BulkRequest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return BulkRequest{}, describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BulkRequest{}, errors.New("unexpected data after the JSON object")
	}
	return req, nil
}

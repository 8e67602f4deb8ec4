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
	"time"

	"github.com/google/uuid"
	"github.com/hibiken/asynq"

	"github.com/mediaflow/mediaflow/publishrules"
	"github.com/mediaflow/mediaflow/tracing"
)

// Edit is a change to a pipeline that has not published: the publish
// request's shape, holding only what changes, for example
// {"post": {"caption": "…", "publishAt": "…"}}. A field left out (nil)
// stays as it is; an empty list clears one (labels).
type Edit struct {
	Post   *PostEdit `json:"post,omitempty"`
	Action Action    `json:"action,omitempty"`
}

// PostEdit is what an edit may change of the post.
type PostEdit struct {
	ProfileIDs   []string   `json:"profileIds,omitempty"`
	Caption      *string    `json:"caption,omitempty"`
	FirstComment *string    `json:"firstComment,omitempty"`
	PublishAt    *time.Time `json:"publishAt,omitempty"`
	LabelIDs     []string   `json:"labelIds,omitempty"`
	Labels       []string   `json:"labels,omitempty"`
}

// Empty reports whether the edit changes nothing.
func (e Edit) Empty() bool {
	p := e.Post
	return e.Action == "" && (p == nil || p.ProfileIDs == nil && p.Caption == nil && p.FirstComment == nil &&
		p.PublishAt == nil && p.LabelIDs == nil && p.Labels == nil)
}

// DecodeEdit reads an edit from JSON as strictly as DecodeRequest reads a
// request: unknown fields (a field of the request an edit cannot change,
// such as media) are refused naming their path. An empty body is the
// empty edit.
func DecodeEdit(r io.Reader) (Edit, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return Edit{}, fmt.Errorf("read edit: %w", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return Edit{}, nil
	}
	if err := checkKeys(b, reflect.TypeFor[Edit]()); err != nil {
		return Edit{}, err
	}
	var e Edit
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		return Edit{}, describeJSONError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Edit{}, errors.New("unexpected data after the JSON object")
	}
	return e, nil
}

// DecodeEditBytes is DecodeEdit on a byte slice.
func DecodeEditBytes(b []byte) (Edit, error) { return DecodeEdit(bytes.NewReader(b)) }

// ErrBusy refuses an edit while a run is acting on the post (making,
// updating or staging it): applied then, it could be half applied. It
// refuses one too while an attempt to make the post went unanswered and
// no run has looked for what it made yet: the search knows the post by
// the request's content and profiles, which the edit would change. Try
// again in a few seconds.
var ErrBusy = errors.New("a step is acting on the post right now; try again")

// applyTo changes req as e says, and names what changed. req is a copy
// whose Post may be replaced, never changed in place (records share it).
func (e Edit) applyTo(req *Request) ([]string, error) {
	var changed []string
	if e.Action != "" && e.Action != req.Action {
		changed = append(changed, fmt.Sprintf("action %s → %s", req.Action, e.Action))
		req.Action = e.Action
	}
	pe := e.Post
	if pe == nil {
		return changed, nil
	}
	if req.Post == nil {
		return nil, &ValidationError{Problems: []Problem{{Field: "post", Message: "the pipeline puts its media on the caller's post " + req.PostID + "; change that post in Swonkie"}}}
	}
	p := clonePostSpec(req.Post)
	if pe.ProfileIDs != nil && !slices.Equal(pe.ProfileIDs, p.ProfileIDs) {
		changed = append(changed, fmt.Sprintf("profiles %s → %s", strings.Join(p.ProfileIDs, ","), strings.Join(pe.ProfileIDs, ",")))
		p.ProfileIDs = slices.Clone(pe.ProfileIDs)
	}
	if pe.Caption != nil && *pe.Caption != p.Caption {
		changed = append(changed, fmt.Sprintf("caption %q → %q", short(p.Caption), short(*pe.Caption)))
		p.Caption = *pe.Caption
	}
	if pe.FirstComment != nil && *pe.FirstComment != p.FirstComment {
		changed = append(changed, fmt.Sprintf("first comment %q → %q", short(p.FirstComment), short(*pe.FirstComment)))
		p.FirstComment = *pe.FirstComment
	}
	if pe.PublishAt != nil {
		at := pe.PublishAt.UTC()
		if p.PublishAt == nil || !p.PublishAt.Equal(at) {
			was := "none"
			if p.PublishAt != nil {
				was = p.PublishAt.Format(time.RFC3339)
			}
			changed = append(changed, fmt.Sprintf("publishAt %s → %s", was, at.Format(time.RFC3339)))
			p.PublishAt = &at
		}
	}
	if e.Action == ActionPublishNow && p.PublishAt != nil {
		// publishNow publishes at once: a publishAt would be refused.
		p.PublishAt = nil
	}
	if pe.LabelIDs != nil && !slices.Equal(pe.LabelIDs, p.LabelIDs) {
		changed = append(changed, fmt.Sprintf("label ids [%s] → [%s]", strings.Join(p.LabelIDs, ","), strings.Join(pe.LabelIDs, ",")))
		p.LabelIDs = slices.Clone(pe.LabelIDs)
	}
	if pe.Labels != nil && !slices.Equal(pe.Labels, p.Labels) {
		changed = append(changed, fmt.Sprintf("labels [%s] → [%s]", strings.Join(p.Labels, ","), strings.Join(pe.Labels, ",")))
		p.Labels = slices.Clone(pe.Labels)
	}
	req.Post = p
	return changed, nil
}

func clonePostSpec(p *PostSpec) *PostSpec {
	c := *p
	c.ProfileIDs = slices.Clone(p.ProfileIDs)
	c.LabelIDs = slices.Clone(p.LabelIDs)
	c.Labels = slices.Clone(p.Labels)
	c.Captions = slices.Clone(p.Captions)
	c.Links = slices.Clone(p.Links)
	return &c
}

func short(s string) string {
	if rs := []rune(s); len(rs) > 40 {
		return string(rs[:40]) + "…"
	}
	return s
}

// amend applies e to r's request as one fact of the record: the edited
// request (validated whole), a new edit generation the post must catch up
// with, the labels to resolve again when they changed, and a history line
// naming who changed what. It returns errNoChange for an edit that
// changes nothing.
func (c *Client) amend(r *Record, e Edit, who string, now time.Time) error {
	req := r.Request
	changed, err := e.applyTo(&req)
	if err != nil {
		return err
	}
	if len(changed) == 0 {
		return errNoChange
	}
	req.normalize()
	// Media and webhook are as they were accepted: only what an edit can
	// change is checked again (publishAt's lead above all).
	if err := req.validate(now, c.timing.MinScheduleLead, nil, nil, nil); err != nil {
		return err
	}
	labelsChanged := req.Post != nil && r.Request.Post != nil &&
		(!slices.Equal(req.Post.Labels, r.Request.Post.Labels) || !slices.Equal(req.Post.LabelIDs, r.Request.Post.LabelIDs))
	r.Request = req
	edited := req
	r.in.Edited = &edited
	r.in.EditGen++
	if labelsChanged {
		r.LabelIDs = nil // resolved again before the post is updated
	}
	if who == "" {
		who = "someone"
	}
	r.note(now, r.Step, nil, "info", fmt.Sprintf("edited by %s: %s", who, strings.Join(changed, "; ")))
	return nil
}

// Edit changes the caption, first comment, profiles, labels, publishAt
// or action of a pipeline whose post is not published, before or after
// its post exists. The change is one compare-and-set of the record; the
// attach step then puts it on the post (a scheduled post is unscheduled,
// updated and scheduled again), so the post ends with the record's
// content. It is refused (ErrBusy) while a run is acting on the post or
// an unanswered attempt to make it is being looked for,
// ErrAlreadyPublished once the post is out or being published,
// ErrFinished for a pipeline that ended (replay it instead), and with a
// *ValidationError when the edited request is invalid. who is written in
// the history.
func (c *Client) Edit(ctx context.Context, id string, e Edit, who string) (_ *Record, err error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, fmt.Errorf("pipeline %q: %w", id, ErrNotFound)
	}
	rec, err := c.store.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if e.Empty() {
		return rec.public(), nil
	}
	ctx, span := startFor(ctx, c.tracer, rec, c.store.now(), spanEdit)
	defer func() { tracing.End(span, err) }()
	// A pipeline that ended, is being cancelled or is winding up (a step
	// gave up on a post that may still go out) is refused for that,
	// below, whatever the edit says.
	if !rec.windingUp() {
		if err := c.checkEdited(ctx, rec, e); err != nil {
			return nil, err
		}
	}
	redisNow, err := c.store.rdb.Now(ctx)
	if err != nil {
		return nil, fmt.Errorf("edit pipeline %s: read Redis time: %w", id, err)
	}
	now := c.store.now().UTC()
	var staged *Record // the record as it was, when its post was staged
	_, err = c.store.update(ctx, rec, func(r *Record) error {
		staged = nil
		if r.Staged {
			staged = cloneRecord(r)
		}
		switch {
		case r.State.Terminal():
			return fmt.Errorf("edit pipeline %s (%s): %w", r.ID, r.State, ErrFinished)
		case r.CancelRequested:
			return fmt.Errorf("edit pipeline %s (cancel requested): %w", r.ID, ErrFinished)
		case r.windingUp():
			return fmt.Errorf("edit pipeline %s (failing: its post is being withdrawn): %w", r.ID, ErrFinished)
		case r.PublishedAt != nil:
			return fmt.Errorf("edit pipeline %s: %w", r.ID, ErrAlreadyPublished)
		case r.Staged && r.Request.Action == ActionPublishNow:
			return fmt.Errorf("edit pipeline %s: its post is being published: %w", r.ID, ErrAlreadyPublished)
		}
		// An invalid edit is refused for good before a busy post is
		// refused for now: only the latter is worth trying again.
		if err := c.amend(r, e, who, now); err != nil {
			return err
		}
		if claimHeld(r.in.PostClaim, redisNow) {
			return fmt.Errorf("edit pipeline %s: %w", r.ID, ErrBusy)
		}
		if r.postUnsearched() {
			return fmt.Errorf("edit pipeline %s: an attempt to make its post went unanswered and is being looked for: %w", r.ID, ErrBusy)
		}
		// A staged post is staged again once the edit is on it. Until
		// the attach step unschedules it to put the edit on, it is queued
		// by our stage as it was and may go out (StagedBeforeEdit).
		if r.Staged {
			r.in.StagedBeforeEdit = true
		}
		r.Staged = false
		return nil
	})
	if err != nil {
		return nil, err
	}
	if staged != nil {
		// The first look at the post was planned for its old publishAt;
		// the new stage plans its own.
		c.dropPlanned(staged, TypePostWatch)
	}
	for _, n := range plan(rec, c.timing) {
		if err := enqueueNext(ctx, c.enq, c.timing, c.store.now(), n); err != nil {
			return rec.public(), err
		}
	}
	return rec.public(), nil
}

// checkEdited refuses an edit that brings in what pre-flight would
// refuse: profiles the pipeline's workspace's cached directory says
// cannot publish (another workspace's, disconnected), as Publish refuses
// them (checkProfiles), and the post on their networks against the rules
// (a caption too long, a file a network does not take), with the media
// as pre-flight probed them (nothing is probed again). Pre-flight does
// not run again for an edit, and the post may be scheduled already:
// accepted, the edit failed the pipeline at attach, withdrawing that
// post, or sent a network what it refuses. Problems the request had
// before the edit are not the edit's, and a problem of the edit's own
// shape is amend's to tell.
func (c *Client) checkEdited(ctx context.Context, rec *Record, e Edit) error {
	if c.noPreflight || e.Post == nil || rec.Request.Post == nil {
		return nil
	}
	req := rec.Request
	if _, err := e.applyTo(&req); err != nil {
		return nil
	}
	ws := workspaceOf(rec)
	dir, err := loadDirectory(ctx, c.store.rdb, ws)
	if err != nil {
		return fmt.Errorf("edit pipeline %s: %w", rec.ID, err)
	}
	if dir == nil {
		return nil // no directory cached: nothing to check against
	}
	checker := c.checkerFor(ws)
	had := map[Problem]bool{}
	for _, p := range checker.editProblems(dir, rec, rec.Request) {
		had[p] = true
	}
	ve := &ValidationError{Unusable: true}
	for _, p := range checker.editProblems(dir, rec, req) {
		if !had[p] {
			ve.Problems = append(ve.Problems, p)
		}
	}
	if len(ve.Problems) == 0 {
		return nil
	}
	return fmt.Errorf("edit pipeline %s: %w", rec.ID, ve)
}

// editProblems is what pre-flight finds about req, a request of rec,
// in dir and the rules, with rec's media as pre-flight probed them.
func (c *preflightChecker) editProblems(dir *ProfileDirectory, rec *Record, req Request) []Problem {
	found := dir.check("post.profileIds", req.Post.ProfileIDs)
	media := make([]publishrules.Media, len(req.Media))
	for i, m := range req.Media {
		media[i] = publishrules.Media{Name: sourceName(m.Source), Net: m.Net}
		if m.Name != "" {
			media[i].Name = m.Name
		}
		if pf := rec.Preflight; pf != nil && i < len(pf.Media) && pf.Media[i].Info != nil {
			pr := pf.Media[i]
			media[i] = publishrules.Media{Name: pr.Name, Net: m.Net, Size: pr.Size, Info: *pr.Info}
		}
	}
	ps, _ := c.ruleFindings(req.Post, dir.networks(req.Post.ProfileIDs), media, rec.Preflight != nil)
	found = append(found, ps...)
	out := make([]Problem, len(found))
	for i, f := range found {
		out[i] = Problem{Field: f.Item, Message: strings.TrimPrefix(f.Message, f.Item+": ")}
	}
	return out
}

// claimHeld: a run holds the post claim and it has not lapsed (Redis's
// time), by the same rule as the runs' (claim.left), with the TTL the
// claim was written with. A claim written before claims carried their
// lapse counts for two minutes.
func claimHeld(cl *claim, now time.Time) bool {
	if cl == nil {
		return false
	}
	ttl := cl.Lapse.Sub(cl.At)
	if cl.Lapse.IsZero() {
		ttl = 2 * time.Minute
	}
	return cl.left(now, ttl) > 0
}

// dropPlanned deletes the queued tasks of type typ that rec planned, so
// that the same task planned anew (with the same id, for another time) is
// not refused as a duplicate. Best effort: a task running now cannot be
// deleted, and one left behind finds nothing to do or polls once more.
func (c *Client) dropPlanned(rec *Record, typ string) {
	insp := asynq.NewInspectorFromRedisClient(c.store.rdb.Client())
	for _, n := range plan(rec, c.timing) {
		if n.typ == typ {
			_ = insp.DeleteTask(rowOf(typ).queue, n.id())
		}
	}
}

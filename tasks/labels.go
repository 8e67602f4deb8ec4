package tasks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/internal/rdb"
	"github.com/mediaflow/mediaflow/swonkie"
)

// Labels by name. A request may name labels (post.labels); the post needs
// their ids. Swonkie's label names need not be unique and POST /labels has
// no idempotency key, so a name is resolved by one worker of the fleet at
// a time (a claim in Redis per workspace and name): it looks in the
// workspace's labels (GET /labels, every page) and takes the first of that
// name, and only when there is none creates one. The id is remembered in
// Redis for LabelCacheTTL, so twenty pipelines naming one new label create
// it once and list the labels once. A create whose answer was lost is
// found by the next resolution's look, so it is not made twice either.
//
// Names are matched exactly (case and spaces count; the request's names
// are trimmed). A label someone deleted in the web app fails the posts
// naming it (400 on labelIds) until the remembered id lapses; the failure
// forgets it at once.

// LabelCacheTTL is how long a resolved label id is used without looking.
const LabelCacheTTL = time.Hour

// labelClaimCalls is how many API calls a label claim covers: the pages
// of GET /labels and the POST.
const labelClaimCalls = 4

// resolveLabels writes, once, the label ids the post gets: the request's
// ids and those of its names. It runs before the post is first created,
// so every attempt at the post (and the search for one whose answer was
// lost) names the same labels.
func (p *pipeline) resolveLabels(ctx context.Context, r *run) error {
	if r.rec.labelsResolved() {
		return nil
	}
	sp := r.rec.Request.Post
	ids := slices.Clone(sp.LabelIDs)
	for _, name := range sp.Labels {
		id, err := p.labelID(ctx, r, name)
		if err != nil {
			return err
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	now := p.now().UTC()
	return r.save(ctx, func(rec *Record) error {
		if rec.labelsResolved() {
			return errNoChange
		}
		rec.LabelIDs = ids
		rec.note(now, StepAttach, nil, "ok", "labels "+strings.Join(sp.Labels, ", ")+" are "+strings.Join(ids, ", "))
		return nil
	})
}

// labelID is the id of the workspace's label called name, made if there
// is none.
func (p *pipeline) labelID(ctx context.Context, r *run, name string) (string, error) {
	ws := p.workspace()
	remembered := func() (string, error) {
		id, err := ws.LabelID(ctx, name)
		if err != nil {
			return "", wrap(err, "attach: label %q", name)
		}
		return id, nil
	}
	if id, err := remembered(); err != nil || id != "" {
		return id, err
	}
	lease := labelClaimCalls*p.api.CallTimeout() + p.timing.ClaimMargin
	took := time.Now()
	ok, err := ws.ClaimLabelName(ctx, name, r.id, lease)
	if err != nil {
		return "", wrap(err, "attach: label %q", name)
	}
	if !ok {
		return "", waitFor(time.Second, "attach: another worker is resolving label %q", name)
	}
	defer func() {
		if err := ws.ReleaseLabelName(context.WithoutCancel(ctx), name, r.id); err != nil {
			r.log.Warn().Err(err).Msg("could not release a label name claim; it expires")
		}
	}()
	// The holder before may have resolved it just now.
	if id, err := remembered(); err != nil || id != "" {
		return id, err
	}
	labels, err := p.api.ListLabels(ctx)
	if err != nil {
		return "", wrap(err, "attach: list labels to find %q", name)
	}
	id := ""
	if i := slices.IndexFunc(labels, func(l swonkie.Label) bool { return l.Name == name }); i >= 0 {
		id = labels[i].ID
	} else {
		// Create only while the claim still covers the call: a holder
		// whose lease ran out may have a successor looking right now.
		if time.Since(took) > lease-p.api.CallTimeout()-p.timing.ClaimMargin {
			return "", waitFor(time.Second, "attach: resolving label %q took too long; looking again", name)
		}
		l, err := p.api.CreateLabel(ctx, name)
		if err != nil {
			return "", wrap(err, "attach: create label %q", name)
		}
		id = l.ID
		r.log.Info().Str("label_id", id).Msg("created label " + name)
	}
	if err := ws.RememberLabel(ctx, name, id, LabelCacheTTL); err != nil {
		return "", wrap(err, "attach: label %q", name)
	}
	return id, nil
}

// forgetLabels drops the remembered ids of the post's label names after
// Swonkie refused one of its labels: the next pipeline looks again.
func (p *pipeline) forgetLabels(ctx context.Context, r *run, err error) {
	var e *swonkie.Error
	if !errors.As(err, &e) || !slices.ContainsFunc(e.Problems, func(pr swonkie.Problem) bool { return strings.HasPrefix(pr.Field, "labelIds") }) {
		return
	}
	for _, name := range r.rec.Request.Post.Labels {
		if ferr := p.workspace().ForgetLabel(context.WithoutCancel(ctx), name); ferr != nil {
			r.log.Warn().Err(ferr).Msg("could not forget a refused label")
		}
	}
}

// workspace is what the fleet remembers of the client's workspace.
func (p *pipeline) workspace() *rdb.Workspace {
	return rdb.NewWorkspace(p.store.rdb.Client(), p.api.Workspace())
}

package tasks

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tracing"
)

// Adoption: recognising the posts a pipeline made, using only what the
// Swonkie docs promise. A post is ours when it references one of this
// pipeline's media ids (media ids are made for one pipeline and recorded
// before any post is created, so no other post can name them), or, where
// the server shows briefings, when it carries our marker. List entries may
// lack the media (the docs do not say what they carry); such an entry is
// read whole, once: which media a post references is remembered.
//
// Only the stages an unrecorded post of ours can be in are searched: a
// post is staged (scheduled, published) only after it was recorded, so an
// attempt whose reply was lost left an IDEA (or, with a publishAt, a
// DRAFT). That keeps the search to the few posts being made right now,
// not the workspace's history.

// adoptPages and adoptPageSize bound the search.
const (
	adoptPages    = 5
	adoptPageSize = 100
)

var adoptStages = []swonkie.Stage{swonkie.StageIdea, swonkie.StageDraft}

// findOurPosts returns the posts this pipeline made, in list order. The
// search is a span of its own: its calls, how many posts it looked at and
// found.
func (p *pipeline) findOurPosts(ctx context.Context, rec *Record) (ours []swonkie.Post, err error) {
	ctx, span := p.tracer.Start(ctx, spanAdoption)
	looked := 0
	defer func() {
		span.SetAttributes(attrLooked.Int(looked), attrFound.Int(len(ours)))
		tracing.End(span, err)
	}()
	want := rec.mediaIDs()
	params := swonkie.ListPostsParams{Stages: adoptStages, ProfileIDs: rec.Request.Post.ProfileIDs, Limit: adoptPageSize}
	for page := 1; page <= adoptPages; page++ {
		params.Page = page
		got, err := p.api.ListPosts(ctx, params)
		if err != nil {
			return nil, err
		}
		looked += len(got.Posts)
		for i := range got.Posts {
			post := &got.Posts[i]
			if !couldBeOurs(post, rec) {
				continue
			}
			media, err := p.postMedia(ctx, post)
			if swonkie.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, err
			}
			if hasMarker(post, rec.ID) || referencesAny(media, want) {
				ours = append(ours, *post)
			}
		}
		if !got.More || len(got.Posts) == 0 {
			break
		}
	}
	return ours, nil
}

// couldBeOurs rules out, from what a list entry does show, posts that
// cannot be this pipeline's.
func couldBeOurs(post *swonkie.Post, rec *Record) bool {
	sp := rec.Request.Post
	if post.Type != "" && string(post.Type) != sp.Type {
		return false
	}
	if post.PublishAt != nil && sp.PublishAt != nil && post.PublishAt.Sub(*sp.PublishAt).Abs() > time.Second {
		return false
	}
	return true
}

// postMedia is the media ids a post references, from the entry when it
// shows them, else from GET /posts/{id} (remembered).
func (p *pipeline) postMedia(ctx context.Context, post *swonkie.Post) ([]string, error) {
	if ids := post.MediaLibIDs(); len(ids) > 0 {
		return ids, nil
	}
	if ids, ok := p.seenPosts.get(post.ID); ok {
		return ids, nil
	}
	// One read failing must not fail the whole search: retryAtOnce tries a
	// passing 5xx again at once (verdict.go).
	var full *swonkie.Post
	err := retryAtOnce(ctx, p.timing, func() error {
		var err error
		full, err = p.api.GetPost(ctx, post.ID)
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	if full.Briefing != nil {
		post.Briefing = full.Briefing
	}
	ids := full.MediaLibIDs()
	p.seenPosts.put(post.ID, ids)
	return ids, nil
}

func referencesAny(media, ids []string) bool {
	for _, id := range media {
		if id != "" && slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

// postMediaCache remembers which media posts reference, so a search run
// again (after a 429 half way) does not read the same posts again. Media
// ids on a post made by a pipeline do not change while it is unrecorded;
// the cache is bounded and forgets its oldest entries.
type postMediaCache struct {
	mu    sync.Mutex
	media map[string][]string
	order []string
}

const postMediaCacheSize = 4096

func (c *postMediaCache) get(id string) ([]string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids, ok := c.media[id]
	return ids, ok
}

func (c *postMediaCache) put(id string, ids []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.media == nil {
		c.media = map[string][]string{}
	}
	if _, ok := c.media[id]; !ok {
		c.order = append(c.order, id)
	}
	c.media[id] = ids
	if len(c.order) > postMediaCacheSize {
		delete(c.media, c.order[0])
		c.order = c.order[1:]
	}
}

package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tracing"
)

// Adoption: recognising the posts a pipeline made, using only what the
// Swonkie docs promise.
//
// A post with media is ours when it references one of this pipeline's
// media ids: media ids are made for one pipeline and recorded before any
// post is created, so no other post can name them (a link's preview and a
// carousel card's image count).
//
// A post without media (a STATUS post, a LINK post without a preview) has
// nothing only we could have put on it that the docs promise to show: the
// briefing marker is not documented to come back. What GET /posts/{id} is
// documented to show is its content, so such a post is ours when its
// content is ours word for word: type, profiles, captions (per network,
// with first comments), links, publishAt (to the second) and label ids,
// with no media. Two pipelines (or a person) may make the same content:
// every such post mediaflow records is owned, in Redis, by the pipeline
// that recorded it (rdb.Workspace.ClaimPost), and a post another pipeline
// owns is never adopted, nor are candidates deleted as duplicates (they may
// be another pipeline's, not yet recorded). Pipelines with the same content
// are interchangeable, so which of two such posts each gets does not
// matter, only that each gets one. The one case left is a person making
// the very same post in the web app while a lost reply is being searched
// for (docs/design.md, "Posts without media").
//
// Where the server does show briefings, a marker decides: ours, or
// another pipeline's.
//
// Only the stages an unrecorded post of ours can be in are searched: a
// post is staged (scheduled, published, sent to review) only after it was
// recorded, so an attempt whose reply was lost left an IDEA (or, with a
// publishAt, a DRAFT). That keeps the search to the few posts being made
// right now, not the workspace's history.

// adoptPages and adoptPageSize bound the search.
const (
	adoptPages    = 5
	adoptPageSize = 100
)

// PostOwnerTTL is how long the owner of a post made without media is
// remembered: longer than such a post can sit as an IDEA or DRAFT waiting
// to be staged by its pipeline.
const PostOwnerTTL = 30 * 24 * time.Hour

var adoptStages = []swonkie.Stage{swonkie.StageIdea, swonkie.StageDraft}

// findOurPosts returns the posts this pipeline made, in list order. For a
// post without media, only candidates no other pipeline owns, the one this
// pipeline owns (a record write that failed) first; byContent says so.
// The search is a span of its own: its calls, how many posts it looked at
// and found.
func (p *pipeline) findOurPosts(ctx context.Context, rec *Record) (found []swonkie.Post, byContent bool, err error) {
	ctx, span := p.tracer.Start(ctx, spanAdoption)
	looked := 0
	defer func() {
		span.SetAttributes(attrLooked.Int(looked), attrFound.Int(len(found)))
		tracing.End(span, err)
	}()
	want := slices.DeleteFunc(rec.mediaIDs(), func(id string) bool { return id == "" })
	// A replay's search covers what earlier attempts attached: a post
	// whose create reply was lost names their media.
	want = append(want, rec.in.PriorMedia...)
	in := postInput(rec)
	byContent = len(want) == 0
	key := contentKey(in.Type, in.ProfileIDs, in.Captions, in.Links, in.PublishAt, in.LabelIDs)
	params := swonkie.ListPostsParams{Stages: adoptStages, ProfileIDs: rec.Request.Post.ProfileIDs,
		Types: []swonkie.PostType{in.Type}, Limit: adoptPageSize}
	for page := 1; page <= adoptPages; page++ {
		params.Page = page
		got, err := p.api.ListPosts(ctx, params)
		if err != nil {
			return nil, byContent, err
		}
		looked += len(got.Posts)
		for i := range got.Posts {
			post := &got.Posts[i]
			if !couldBeOurs(post, rec) {
				continue
			}
			facts, err := p.postFacts(ctx, post, byContent)
			if swonkie.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, byContent, err
			}
			switch {
			case facts.marker == rec.ID:
				found = append(found, *post)
			case facts.marker != "":
				// Another pipeline's, by its own word.
			case byContent:
				if len(facts.media) == 0 && facts.content == key {
					found = append(found, *post)
				}
			case referencesAny(facts.media, want):
				found = append(found, *post)
			}
		}
		if !got.More || len(got.Posts) == 0 {
			break
		}
	}
	if byContent {
		found, err = p.unowned(ctx, rec, found)
	}
	return found, byContent, err
}

// unowned keeps the posts no other pipeline owns, this pipeline's own
// first.
func (p *pipeline) unowned(ctx context.Context, rec *Record, posts []swonkie.Post) ([]swonkie.Post, error) {
	var mine, free []swonkie.Post
	for _, post := range posts {
		owner, err := p.workspace().PostOwner(ctx, post.ID)
		if err != nil {
			return nil, wrap(err, "attach: who owns post %s", post.ID)
		}
		switch owner {
		case rec.ID:
			mine = append(mine, post)
		case "":
			free = append(free, post)
		}
	}
	return append(mine, free...), nil
}

// claimPost makes this pipeline the owner of a post it made or adopted
// without media; false when another pipeline owns it already.
func (p *pipeline) claimPost(ctx context.Context, rec *Record, postID string) (bool, error) {
	owner, err := p.workspace().ClaimPost(ctx, postID, rec.ID, PostOwnerTTL)
	if err != nil {
		return false, wrap(err, "attach: own post %s", postID)
	}
	return owner == rec.ID, nil
}

// couldBeOurs rules out, from what a list entry does show, posts that
// cannot be this pipeline's.
func couldBeOurs(post *swonkie.Post, rec *Record) bool {
	sp := rec.Request.Post
	if post.Type != "" && string(post.Type) != sp.Type {
		return false
	}
	// An earlier attempt's post may carry the publishAt an edit changed
	// since: its media tell, not its time.
	if len(rec.in.PriorMedia) == 0 && post.PublishAt != nil && sp.PublishAt != nil && post.PublishAt.Sub(*sp.PublishAt).Abs() > time.Second {
		return false
	}
	return true
}

// postFacts is what adoption needs to know of a post: the media it
// references, its content key, and the pipeline its briefing names.
type postFacts struct {
	media   []string
	content string
	marker  string
}

// postFacts reads a post's facts: from the list entry when it shows its
// media and the content is not needed, else from GET /posts/{id}
// (remembered).
func (p *pipeline) postFacts(ctx context.Context, post *swonkie.Post, needContent bool) (postFacts, error) {
	if ids := post.ReferencedMediaIDs(); len(ids) > 0 && !needContent {
		return postFacts{media: ids, marker: markerOf(post)}, nil
	}
	if f, ok := p.seenPosts.get(p.api.Workspace() + "/" + post.ID); ok {
		return f, nil
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
		return postFacts{}, err
	}
	var profiles []string
	for _, pr := range full.Profiles {
		profiles = append(profiles, pr.ID)
	}
	f := postFacts{media: full.ReferencedMediaIDs(), marker: markerOf(full),
		content: contentKey(full.Type, profiles, full.Captions, full.Links, full.PublishAt, full.LabelIDs)}
	p.seenPosts.put(p.api.Workspace()+"/"+post.ID, f)
	return f, nil
}

// contentKey names what a post without media says, for telling ours from
// others': its type, profiles, captions (per network, first comments
// included), links, publishAt (to the second) and label ids, each list in
// a fixed order, texts with their ends trimmed and line breaks as \n (a
// server may store them so). Option objects are left out: an answer shows
// only those of the networks the post targets.
func contentKey(typ swonkie.PostType, profiles []string, captions []swonkie.Caption, links []swonkie.Link, at *swonkie.Time, labels []string) string {
	norm := func(s string) string { return strings.TrimSpace(strings.ReplaceAll(s, "\r\n", "\n")) }
	sorted := func(s []string) []string {
		s = slices.Clone(s)
		slices.Sort(s)
		return s
	}
	var cs, ls []string
	for _, c := range captions {
		comment := ""
		if c.FirstComment != nil {
			comment = norm(c.FirstComment.PlainText)
		}
		cs = append(cs, strings.Join([]string{netOf(c.Net), norm(c.PlainText), comment}, "\x1f"))
	}
	for _, l := range links {
		ls = append(ls, strings.Join([]string{netOf(l.Net), strings.TrimSpace(l.Link), norm(l.LinkTitle), norm(l.LinkDescription), l.MediaLibID}, "\x1f"))
	}
	when := ""
	if at != nil {
		when = at.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	parts := []string{string(typ), strings.Join(sorted(profiles), "\x1f"), strings.Join(sorted(cs), "\x1e"),
		strings.Join(sorted(ls), "\x1e"), when, strings.Join(sorted(labels), "\x1f")}
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x1d")))
	return hex.EncodeToString(sum[:16])
}

// markerOf is the pipeline id a post's briefing names, "" when it shows
// none.
func markerOf(post *swonkie.Post) string {
	if post.Briefing == nil {
		return ""
	}
	_, after, ok := strings.Cut(post.Briefing.Markdown, Marker(""))
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(after, "\n")
	return strings.TrimSpace(id)
}

func referencesAny(media, ids []string) bool {
	for _, id := range media {
		if id != "" && slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

// postFactsCache remembers what adoption read of posts, so a search run
// again (after a 429 half way) does not read the same posts again. What
// a post made by a pipeline says does not change while it is unrecorded;
// the cache is bounded and forgets its oldest entries.
type postFactsCache struct {
	mu    sync.Mutex
	facts map[string]postFacts
	order []string
}

const postFactsCacheSize = 4096

func (c *postFactsCache) get(id string) (postFacts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.facts[id]
	return f, ok
}

func (c *postFactsCache) put(id string, f postFacts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.facts == nil {
		c.facts = map[string]postFacts{}
	}
	if _, ok := c.facts[id]; !ok {
		c.order = append(c.order, id)
	}
	c.facts[id] = f
	if len(c.order) > postFactsCacheSize {
		delete(c.facts, c.order[0])
		c.order = c.order[1:]
	}
}

package sandbox

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// postContent is what a caller can write to a post through POST and PUT.
type postContent struct {
	typ        swonkie.PostType
	profileIDs []string
	publishAt  time.Time
	captions   []swonkie.Caption
	medias     []swonkie.MediaGroup
	links      []swonkie.Link
	briefing   *swonkie.Briefing
	facebook   *swonkie.FacebookOptions
	instagram  *swonkie.InstagramOptions
	linkedIn   *swonkie.LinkedInOptions
	tiktok     *swonkie.TikTokOptions
	labelIDs   []string
}

// post is one post of the workspace. Stored slices and pointers are never
// changed in place, only replaced, so views may share them.
type post struct {
	id        string
	seq       uint64
	content   postContent
	stage     swonkie.Stage
	createdAt time.Time
	updatedAt time.Time

	// dueAt is when the queued publication happens; zero when none is.
	dueAt time.Time
	// publishNow marks a queued publication that publishNow started: it
	// cannot be stopped, so delete, update and unschedule are refused.
	publishNow    bool
	publishStatus map[string]string // per profile id, once publishing started
	publishedAt   time.Time
	failReason    string

	// failFirstProfile is a partialPublish fault for the queued
	// publication.
	failFirstProfile bool

	deletedAt           time.Time
	createReplyLost     bool
	createReplyUnusable bool
}

// postBody is the JSON of POST /posts and PUT /posts/{id}. A field that is
// absent or null is not sent: create leaves it empty, update leaves it as
// it was.
type postBody struct {
	Type       *swonkie.PostType         `json:"type"`
	ProfileIDs *[]string                 `json:"profileIds"`
	PublishAt  *swonkie.Time             `json:"publishAt"`
	Captions   *[]swonkie.Caption        `json:"captions"`
	Medias     *[]swonkie.MediaGroup     `json:"medias"`
	Links      *[]swonkie.Link           `json:"links"`
	Briefing   *swonkie.Briefing         `json:"briefing"`
	Facebook   *swonkie.FacebookOptions  `json:"facebook"`
	Instagram  *swonkie.InstagramOptions `json:"instagram"`
	LinkedIn   *swonkie.LinkedInOptions  `json:"linkedIn"`
	TikTok     *swonkie.TikTokOptions    `json:"tiktok"`
	LabelIDs   *[]string                 `json:"labelIds"`
}

// applyTo writes the fields b carries over c; arrays replace wholesale.
func (b *postBody) applyTo(c *postContent) {
	if b.Type != nil {
		c.typ = *b.Type
	}
	if b.ProfileIDs != nil {
		c.profileIDs = *b.ProfileIDs
	}
	if b.PublishAt != nil && !b.PublishAt.IsZero() {
		c.publishAt = b.PublishAt.UTC()
	}
	if b.Captions != nil {
		c.captions = *b.Captions
	}
	if b.Medias != nil {
		c.medias = *b.Medias
	}
	if b.Links != nil {
		c.links = *b.Links
	}
	if b.Briefing != nil {
		c.briefing = b.Briefing
	}
	if b.Facebook != nil {
		c.facebook = b.Facebook
	}
	if b.Instagram != nil {
		c.instagram = b.Instagram
	}
	if b.LinkedIn != nil {
		c.linkedIn = b.LinkedIn
	}
	if b.TikTok != nil {
		c.tiktok = b.TikTok
	}
	if b.LabelIDs != nil {
		c.labelIDs = *b.LabelIDs
	}
}

// livePost returns the post id names unless it is unknown or deleted. The
// caller holds s.mu.
func (s *Server) livePost(id string) *post {
	p := s.posts[id]
	if p == nil || !p.deletedAt.IsZero() {
		return nil
	}
	return p
}

func postNotFound() reply { return errorReply(http.StatusNotFound, "post not found in this workspace") }

func (s *Server) createPost(x *exchange) reply {
	var b postBody
	if rep := decodeBody(x.r, &b); rep != nil {
		return *rep
	}
	now := s.lock()
	defer s.mu.Unlock()
	var c postContent
	b.applyTo(&c)
	if problems := s.validate(&c, now, s.opts.PostChecks == PostChecksAtCreate); len(problems) > 0 {
		return invalidPost(problems)
	}
	s.counts.postsCreated++
	p := &post{id: s.newID("post"), seq: uint64(s.counts.postsCreated), content: c, stage: swonkie.StageIdea,
		createdAt: now, updatedAt: now}
	if !c.publishAt.IsZero() {
		p.stage = swonkie.StageDraft
	}
	s.posts[p.id] = p
	s.postOrder = append(s.postOrder, p)
	x.createdPost = p.id
	return jsonReply(http.StatusCreated, s.sh.wirePost(s.postView(p), asPost))
}

func (s *Server) getPost(x *exchange) reply {
	s.lock()
	defer s.mu.Unlock()
	p := s.livePost(x.params[0])
	if p == nil {
		return postNotFound()
	}
	return jsonReply(http.StatusOK, s.sh.wirePost(s.postView(p), asPost))
}

// updatePost changes only what the body carries. A PUBLISHED post is out
// on the networks and refuses changes, as does one publishNow is pushing
// out; a scheduled one moves with its publishAt.
func (s *Server) updatePost(x *exchange) reply {
	var b postBody
	if rep := decodeBody(x.r, &b); rep != nil {
		return *rep
	}
	now := s.lock()
	defer s.mu.Unlock()
	p := s.livePost(x.params[0])
	switch {
	case p == nil:
		return postNotFound()
	case p.stage == swonkie.StagePublished:
		return errorReply(http.StatusConflict, "post is PUBLISHED and can no longer change")
	case p.publishNow:
		return errorReply(http.StatusConflict, "post is being published and cannot change now")
	}
	c := p.content
	b.applyTo(&c)
	problems := s.validate(&c, now, s.opts.PostChecks == PostChecksAtCreate)
	queued := !p.dueAt.IsZero()
	if queued && !c.publishAt.Equal(p.content.publishAt) && !c.publishAt.After(now) {
		problems = append(problems, swonkie.Problem{Field: "publishAt", Message: "publishAt of a scheduled post must be in the future"})
	}
	if len(problems) > 0 {
		return invalidPost(problems)
	}
	p.content = c
	p.updatedAt = now
	if p.stage == swonkie.StageIdea && !c.publishAt.IsZero() {
		p.stage = swonkie.StageDraft
	}
	if queued {
		s.enqueue(p, c.publishAt, false)
	}
	return jsonReply(http.StatusOK, s.sh.wirePost(s.postView(p), asPost))
}

func (s *Server) deletePost(x *exchange) reply {
	if rep := requireNoBody(x.r); rep != nil {
		return *rep
	}
	now := s.lock()
	defer s.mu.Unlock()
	p := s.livePost(x.params[0])
	switch {
	case p == nil:
		return postNotFound()
	case p.publishNow:
		return errorReply(http.StatusConflict, "post is being published and cannot be deleted now")
	}
	s.dequeue(p)
	p.deletedAt = now
	s.counts.postsDeleted++
	return s.sh.deleted()
}

// postView is the API's view of p. Network option objects appear only
// when the post targets that network, as the docs say.
func (s *Server) postView(p *post) swonkie.Post {
	c := &p.content
	v := swonkie.Post{
		ID: p.id, Type: c.typ, Stage: p.stage, Budget: 0,
		Captions: c.captions, Medias: c.medias, Links: c.links, Briefing: c.briefing, LabelIDs: c.labelIDs,
		CreatedAt: swonkie.NewTime(p.createdAt), UpdatedAt: swonkie.NewTime(p.updatedAt),
	}
	if !c.publishAt.IsZero() {
		v.PublishAt = swonkie.NewTime(c.publishAt)
	}
	nets := map[string]bool{}
	for _, id := range c.profileIDs {
		pp := swonkie.PostProfile{ID: id, PublishStatus: p.publishStatus[id]}
		if prof := s.profileByID[id]; prof != nil {
			pp.Name, pp.Username, pp.Net = prof.Name, prof.Username, prof.Net
			nets[prof.Net.Code] = true
		}
		v.Profiles = append(v.Profiles, pp)
	}
	if nets["facebook"] {
		v.Facebook = c.facebook
	}
	if nets["instagram"] {
		v.Instagram = c.instagram
	}
	if nets["linkedin"] {
		v.LinkedIn = c.linkedIn
	}
	if nets["tiktok"] {
		v.TikTok = c.tiktok
	}
	return v
}

// postWire is a post on the wire. Which fields it carries depends on the
// answer (a single post or a list entry) and the sandbox's shapes; a field
// that is in the shape is always written, arrays as [] when empty and
// publishAt as null when unset, as a NestJS serializer would.
type postWire struct {
	ID        string                      `json:"id"`
	Type      swonkie.PostType            `json:"type"`
	Stage     swonkie.Stage               `json:"stage"`
	PublishAt *swonkie.Time               `json:"publishAt"`
	Budget    *float64                    `json:"budget,omitempty"`
	Profiles  *[]swonkie.PostProfile      `json:"profiles,omitempty"`
	Captions  *[]swonkie.Caption          `json:"captions,omitempty"`
	Medias    *[]swonkie.MediaGroup       `json:"medias,omitempty"`
	Links     *[]swonkie.Link             `json:"links,omitempty"`
	Briefing  *nullable[swonkie.Briefing] `json:"briefing,omitempty"`
	Facebook  *swonkie.FacebookOptions    `json:"facebook,omitempty"`
	Instagram *swonkie.InstagramOptions   `json:"instagram,omitempty"`
	LinkedIn  *swonkie.LinkedInOptions    `json:"linkedIn,omitempty"`
	TikTok    *swonkie.TikTokOptions      `json:"tiktok,omitempty"`
	LabelIDs  *[]string                   `json:"labelIds,omitempty"`
	CreatedAt *swonkie.Time               `json:"createdAt,omitempty"`
	UpdatedAt *swonkie.Time               `json:"updatedAt,omitempty"`
}

// Which answer a post is written for.
const (
	asPost      = false
	asListEntry = true
)

// wirePost writes v as a single-post answer (POST /posts, PUT and GET
// /posts/{id}) or as a GET /posts entry. The docs show a post's id, type,
// stage, publishAt, budget, profiles (publishStatus once publishing
// started), captions, medias, links, labels and network objects; nothing
// shows its briefing, its timestamps or the names of its profiles, and
// nothing at all is said about list entries.
func (sh shapes) wirePost(v swonkie.Post, listEntry bool) postWire {
	w := postWire{ID: v.ID, Type: v.Type, Stage: v.Stage, PublishAt: v.PublishAt}
	profiles := make([]swonkie.PostProfile, len(v.Profiles))
	for i, pp := range v.Profiles {
		if !sh.lenient {
			pp = swonkie.PostProfile{ID: pp.ID, Net: swonkie.Network{Code: pp.Net.Code}, PublishStatus: pp.PublishStatus}
		}
		profiles[i] = pp
	}
	medias := orEmpty(v.Medias)
	full := func() {
		budget := v.Budget
		captions, links, labels := orEmpty(v.Captions), orEmpty(v.Links), orEmpty(v.LabelIDs)
		w.Budget, w.Profiles, w.Captions, w.Medias, w.Links, w.LabelIDs = &budget, &profiles, &captions, &medias, &links, &labels
		w.Facebook, w.Instagram, w.LinkedIn, w.TikTok = v.Facebook, v.Instagram, v.LinkedIn, v.TikTok
		if sh.lenient {
			w.CreatedAt, w.UpdatedAt = v.CreatedAt, v.UpdatedAt
		}
	}
	switch {
	case !listEntry:
		full()
		if sh.briefing != BriefingNever {
			w.Briefing = some(v.Briefing)
		}
		return w
	case sh.listEntry == ListEntryFull:
		full()
	case sh.listEntry == ListEntryDocumented:
		w.Profiles, w.Medias = &profiles, &medias
	}
	if sh.briefing == BriefingEverywhere {
		w.Briefing = some(v.Briefing)
	}
	return w
}

func orEmpty[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// List limits.
const (
	defaultPageLimit = 20
	maxPageLimit     = 100
)

// listParams are the query parameters GET /posts understands; any other
// is refused, as a whitelisting query DTO would.
var listParams = []string{"search", "labelIds", "stages", "types", "profileIds", "from", "to", "page", "limit"}

// pagedList is a page of a list: {"data":[…],"meta":{…}}.
type pagedList[T any] struct {
	Data []T      `json:"data"`
	Meta pageMeta `json:"meta"`
}

type pageMeta struct {
	Page    int  `json:"page"`
	Limit   int  `json:"limit"`
	Total   int  `json:"total"`
	HasMore bool `json:"hasMore"`
}

// listPosts filters (search, labelIds, stages, types, profileIds, a
// publishAt range from/to) and pages the workspace's posts, newest first.
// List parameters are comma-separated or repeated; ARCHIVE posts appear
// only when stages asks for them.
func (s *Server) listPosts(x *exchange) reply {
	q := x.r.URL.Query()
	var problems []swonkie.Problem
	for k := range q {
		if !contains(listParams, k) {
			problems = append(problems, swonkie.Problem{Field: k, Message: "property " + k + " should not exist"})
		}
	}
	list := func(key string) []string {
		var out []string
		for _, v := range q[key] {
			for part := range strings.SplitSeq(v, ",") {
				if part = strings.TrimSpace(part); part != "" {
					out = append(out, part)
				}
			}
		}
		return out
	}
	stages := list("stages")
	for _, st := range stages {
		if !contains(swonkie.AllStages, swonkie.Stage(st)) {
			problems = append(problems, swonkie.Problem{Field: "stages", Message: "unknown stage " + strconv.Quote(st)})
		}
	}
	if len(stages) == 0 {
		for _, st := range swonkie.AllStages {
			if st != swonkie.StageArchive {
				stages = append(stages, string(st))
			}
		}
	}
	types := list("types")
	for _, t := range types {
		if !contains(postTypes, swonkie.PostType(t)) {
			problems = append(problems, swonkie.Problem{Field: "types", Message: "unknown post type " + strconv.Quote(t)})
		}
	}
	pg, pageProblems := readPaging(q)
	problems = append(problems, pageProblems...)
	timeParam := func(key string) time.Time {
		v := q.Get(key)
		if v == "" {
			return time.Time{}
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			problems = append(problems, swonkie.Problem{Field: key, Message: key + " must be an ISO-8601 timestamp"})
		}
		return t
	}
	from, to := timeParam("from"), timeParam("to")
	if len(problems) > 0 {
		sortProblems(problems)
		return errorReply(http.StatusBadRequest, "query is not valid", problems...)
	}
	labels, profiles := list("labelIds"), list("profileIds")
	search := strings.ToLower(q.Get("search"))

	s.lock()
	defer s.mu.Unlock()
	var hits []*post
	for _, p := range s.postOrder {
		c := &p.content
		switch {
		case !p.deletedAt.IsZero(),
			!contains(stages, string(p.stage)),
			len(types) > 0 && !contains(types, string(c.typ)),
			len(labels) > 0 && !overlaps(labels, c.labelIDs),
			len(profiles) > 0 && !overlaps(profiles, c.profileIDs),
			!from.IsZero() && (c.publishAt.IsZero() || c.publishAt.Before(from)),
			!to.IsZero() && (c.publishAt.IsZero() || c.publishAt.After(to)),
			search != "" && !strings.Contains(searchText(c, s.sh.searchBriefing), search):
			continue
		}
		hits = append(hits, p)
	}
	slices.SortStableFunc(hits, func(a, b *post) int {
		if c := b.createdAt.Compare(a.createdAt); c != 0 {
			return c
		}
		return cmp.Compare(b.seq, a.seq)
	})
	start, end, meta := pg.window(len(hits))
	out := pagedList[postWire]{Data: []postWire{}, Meta: meta}
	for _, p := range hits[start:end] {
		out.Data = append(out.Data, s.sh.wirePost(s.postView(p), asListEntry))
	}
	return jsonReply(http.StatusOK, out)
}

// paging is the page and limit of a paged list.
type paging struct{ page, limit int }

// readPaging reads page (from 1) and limit (default 20, 1 to 100).
func readPaging(q url.Values) (paging, []swonkie.Problem) {
	var problems []swonkie.Problem
	intParam := func(key string, def, lo, hi int) int {
		v := q.Get(key)
		if v == "" {
			return def
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < lo || n > hi {
			problems = append(problems, swonkie.Problem{Field: key, Message: key + " must be an integer from " + strconv.Itoa(lo) + " to " + strconv.Itoa(hi)})
			return def
		}
		return n
	}
	return paging{page: intParam("page", 1, 1, 1<<30), limit: intParam("limit", defaultPageLimit, 1, maxPageLimit)}, problems
}

// window is the slice [start:end) of a list of n items this page shows,
// and the meta that describes it.
func (pg paging) window(n int) (start, end int, meta pageMeta) {
	start = min((pg.page-1)*pg.limit, n)
	end = min(start+pg.limit, n)
	return start, end, pageMeta{Page: pg.page, Limit: pg.limit, Total: n, HasMore: end < n}
}

// searchText is what search looks in, lower-cased: caption texts, first
// comments and, when asked, the briefing.
func searchText(c *postContent, briefing bool) string {
	var b strings.Builder
	for _, cp := range c.captions {
		b.WriteString(cp.PlainText)
		b.WriteByte('\n')
		if cp.FirstComment != nil {
			b.WriteString(cp.FirstComment.PlainText)
			b.WriteByte('\n')
		}
	}
	if briefing && c.briefing != nil {
		b.WriteString(c.briefing.Markdown)
	}
	return strings.ToLower(b.String())
}

func overlaps(want, have []string) bool {
	for _, w := range want {
		if slices.Contains(have, w) {
			return true
		}
	}
	return false
}

func contains[T comparable](list []T, v T) bool { return slices.Contains(list, v) }

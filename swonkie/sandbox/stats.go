package sandbox

import (
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/mediainfo"
	"github.com/mediaflow/mediaflow/swonkie"
)

// counters are the running totals behind Stats.
type counters struct {
	mediaCreated, mediaUploaded, mediaConfirmed, mediaDeleted, mediaExpired int
	uploads                                                                 int
	bytesUploaded                                                           int64
	postsCreated, postsDeleted, published, publishFailed                    int
	publishedPartly, redirectsFollowed                                      int
}

// ViolationCredentialsToStorage is a request to the upload URL that carried
// X-API-ID or X-API-KEY: the docs say the URL is pre-signed, and sending
// the workspace key to a storage host leaks it.
const ViolationCredentialsToStorage = "credentials-sent-to-storage"

// Violation is a client behaviour the real service might tolerate but a
// well-behaved client must not show.
type Violation struct {
	Kind     string    `json:"kind"`
	Endpoint string    `json:"endpoint"`
	MediaID  string    `json:"mediaId,omitempty"`
	At       time.Time `json:"at"`
}

func (s *Server) violation(kind, endpoint, mediaID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.violations = append(s.violations, Violation{Kind: kind, Endpoint: endpoint, MediaID: mediaID, At: s.opts.Clock.Now()})
}

// Stats is a snapshot of what the sandbox has seen. The tallies are meant
// to be read once the work under test is finished: media still on their
// way to a post count as orphaned until the post is published.
type Stats struct {
	Now   time.Time  `json:"now"`
	Media MediaStats `json:"media"`
	Posts PostStats  `json:"posts"`
	// Requests counts requests per endpoint key ("POST /media", "other"
	// for unknown routes) and status; status 0 means the connection was
	// dropped without an answer (reset, lost reply, client gone).
	Requests map[string]map[int]int `json:"requests"`
	// Faults counts the faults injected per endpoint key and kind.
	Faults     map[string]map[FaultKind]int `json:"faults"`
	Violations []Violation                  `json:"violations"`
	// BusiestSecond is the most /v2 calls that arrived within any one
	// second of the sandbox clock (faulted and refused calls included),
	// starting at BusiestSecondAt: what a client's rate limit must bound.
	BusiestSecond   int       `json:"busiestSecond"`
	BusiestSecondAt time.Time `json:"busiestSecondAt,omitzero"`
	// RedirectsFollowed counts requests that arrived at the default target
	// of a redirect fault.
	RedirectsFollowed int `json:"redirectsFollowed"`
}

// MediaStats are the media tallies.
type MediaStats struct {
	Created   int `json:"created"`
	Uploaded  int `json:"uploaded"` // media with at least one complete upload
	Confirmed int `json:"confirmed"`
	Deleted   int `json:"deleted"` // by the client
	Expired   int `json:"expired"` // never confirmed, removed by "Swonkie"
	// Uploads counts complete uploads, re-uploads included.
	Uploads       int   `json:"uploads"`
	BytesUploaded int64 `json:"bytesUploaded"`
	// LostCreates are media whose POST /media reply a lostReply fault
	// dropped: the client never learnt their id.
	LostCreates []string `json:"lostCreates"`
	// UnusableCreates are media whose POST /media reply a badBody fault
	// spoilt: the client could not read their id.
	UnusableCreates []string `json:"unusableCreates"`
	// Alive are the media that exist now (neither deleted nor expired),
	// whatever references them: after a finished run, the ones left behind.
	Alive []string `json:"alive"`
	// Orphaned are media created and never deleted by the client (expired
	// ones included) that no PUBLISHED post references.
	Orphaned []string `json:"orphaned"`
}

// PostStats are the post tallies.
type PostStats struct {
	Created       int `json:"created"`
	Deleted       int `json:"deleted"`
	Published     int `json:"published"`
	PublishFailed int `json:"publishFailed"`
	// PublishedPartly counts publications that reached PUBLISHED with at
	// least one profile in ERROR.
	PublishedPartly int      `json:"publishedPartly"`
	LostCreates     []string `json:"lostCreates"`
	UnusableCreates []string `json:"unusableCreates"`
	// Alive counts the posts not deleted.
	Alive int `json:"alive"`
	// ByMediaSet groups live posts by the set of media they reference
	// (posts without media left out), in the order of each set's first
	// post: more than one post in a group is one media set posted twice.
	ByMediaSet []PostGroup `json:"byMediaSet"`
	// ByMarker groups live posts by the marker their briefing or captions
	// hold; filled only when asked for (StatsWithMarker, or
	// GET /_sandbox/stats?markerPrefix=…).
	ByMarker map[string][]string `json:"byMarker,omitempty"`
	// Duplicates groups live posts with the same type, captions, links,
	// media set, profile set and publishAt: the trace of a blind retry of
	// POST /posts.
	Duplicates [][]string `json:"duplicates"`
}

// PostGroup is a set of live posts sharing one media set.
type PostGroup struct {
	Media []string `json:"media"` // sorted
	Posts []string `json:"posts"` // oldest first
}

// DuplicatesByMedia is how many live posts reference a media set an older
// live post already references.
func (p PostStats) DuplicatesByMedia() int {
	n := 0
	for _, g := range p.ByMediaSet {
		n += len(g.Posts) - 1
	}
	return n
}

// DuplicatePosts is how many posts are copies of an earlier one.
func (p PostStats) DuplicatePosts() int {
	n := 0
	for _, g := range p.Duplicates {
		n += len(g) - 1
	}
	return n
}

// Stats returns a snapshot, with time-driven changes applied up to now.
func (s *Server) Stats() Stats { return s.StatsWithMarker("") }

// StatsWithMarker is Stats with Posts.ByMarker filled: every live post
// whose briefing or captions hold markerPrefix is grouped under the marker,
// markerPrefix and what follows it up to the next space or line break.
// With "mediaflow-pipeline:" it counts the posts of each pipeline.
func (s *Server) StatsWithMarker(markerPrefix string) Stats {
	now := s.lock()
	defer s.mu.Unlock()
	c := s.counts
	st := Stats{
		Now: now,
		Media: MediaStats{Created: c.mediaCreated, Uploaded: c.mediaUploaded, Confirmed: c.mediaConfirmed,
			Deleted: c.mediaDeleted, Expired: c.mediaExpired, Uploads: c.uploads, BytesUploaded: c.bytesUploaded,
			LostCreates: []string{}, Orphaned: []string{}},
		Posts: PostStats{Created: c.postsCreated, Deleted: c.postsDeleted, Published: c.published,
			PublishFailed: c.publishFailed, LostCreates: []string{}, Duplicates: [][]string{}},
		Requests:          map[string]map[int]int{},
		Faults:            map[string]map[FaultKind]int{},
		Violations:        append([]Violation{}, s.violations...),
		RedirectsFollowed: c.redirectsFollowed,
	}
	st.Media.UnusableCreates, st.Media.Alive = []string{}, []string{}
	st.Posts.PublishedPartly, st.Posts.UnusableCreates, st.Posts.ByMediaSet = c.publishedPartly, []string{}, []PostGroup{}
	st.BusiestSecond, st.BusiestSecondAt = busiestWindow(s.callTimes, time.Second)
	for k, v := range s.requests {
		st.Requests[k] = maps.Clone(v)
	}
	for k, v := range s.faultCounts {
		st.Faults[k] = maps.Clone(v)
	}
	inPublished := map[string]bool{}
	for _, p := range s.postOrder {
		if p.stage == swonkie.StagePublished {
			for _, id := range referencedMedia(&p.content) {
				inPublished[id] = true
			}
		}
	}
	for _, m := range s.mediaOrder {
		if m.createReplyLost {
			st.Media.LostCreates = append(st.Media.LostCreates, m.id)
		}
		if m.createReplyUnusable {
			st.Media.UnusableCreates = append(st.Media.UnusableCreates, m.id)
		}
		if m.deletedAt.IsZero() && !inPublished[m.id] {
			st.Media.Orphaned = append(st.Media.Orphaned, m.id)
		}
		if !m.goneAt(now, s.opts.UnconfirmedTTL) {
			st.Media.Alive = append(st.Media.Alive, m.id)
		}
	}
	groups := map[string][]string{}
	bySet := map[string]int{}
	var order []string
	for _, p := range s.postOrder {
		if p.createReplyLost {
			st.Posts.LostCreates = append(st.Posts.LostCreates, p.id)
		}
		if p.createReplyUnusable {
			st.Posts.UnusableCreates = append(st.Posts.UnusableCreates, p.id)
		}
		if !p.deletedAt.IsZero() {
			continue
		}
		st.Posts.Alive++
		if mk := mediaSetKey(&p.content); mk != "" {
			i, ok := bySet[mk]
			if !ok {
				i = len(st.Posts.ByMediaSet)
				bySet[mk] = i
				ids := referencedMedia(&p.content)
				slices.Sort(ids)
				st.Posts.ByMediaSet = append(st.Posts.ByMediaSet, PostGroup{Media: ids})
			}
			st.Posts.ByMediaSet[i].Posts = append(st.Posts.ByMediaSet[i].Posts, p.id)
		}
		if markerPrefix != "" {
			for _, mk := range markersIn(&p.content, markerPrefix) {
				if st.Posts.ByMarker == nil {
					st.Posts.ByMarker = map[string][]string{}
				}
				st.Posts.ByMarker[mk] = append(st.Posts.ByMarker[mk], p.id)
			}
		}
		k := duplicateKey(&p.content)
		if groups[k] == nil {
			order = append(order, k)
		}
		groups[k] = append(groups[k], p.id)
	}
	for _, k := range order {
		if len(groups[k]) > 1 {
			st.Posts.Duplicates = append(st.Posts.Duplicates, groups[k])
		}
	}
	return st
}

// mediaSetKey names the set of media c references; "" for none.
func mediaSetKey(c *postContent) string {
	ids := referencedMedia(c)
	slices.Sort(ids)
	return strings.Join(ids, "\x00")
}

// markersIn lists the distinct markers starting with prefix in c's
// briefing and captions.
func markersIn(c *postContent, prefix string) []string {
	var texts []string
	if c.briefing != nil {
		texts = append(texts, c.briefing.Markdown)
	}
	for _, cp := range c.captions {
		texts = append(texts, cp.PlainText)
	}
	var out []string
	for _, t := range texts {
		for {
			i := strings.Index(t, prefix)
			if i < 0 {
				break
			}
			t = t[i:]
			end := strings.IndexAny(t, " \t\r\n")
			if end < 0 {
				end = len(t)
			}
			if !slices.Contains(out, t[:end]) {
				out = append(out, t[:end])
			}
			t = t[end:]
		}
	}
	return out
}

// busiestWindow returns the most arrivals within any span of length d and
// when that span starts.
func busiestWindow(times []int64, d time.Duration) (int, time.Time) {
	if len(times) == 0 {
		return 0, time.Time{}
	}
	ts := slices.Clone(times)
	slices.Sort(ts)
	best, at := 0, ts[0]
	i := 0
	for j := range ts {
		for ts[j]-ts[i] >= int64(d) {
			i++
		}
		if n := j - i + 1; n > best {
			best, at = n, ts[i]
		}
	}
	return best, time.Unix(0, at).UTC()
}

// BusiestWindow returns the most /v2 calls that arrived within any span
// of length d of the sandbox clock, and when that span starts; Stats gives
// it for one second.
func (s *Server) BusiestWindow(d time.Duration) (int, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return busiestWindow(s.callTimes, d)
}

// duplicateKey is what makes two posts the same post for a reader: the
// type, the caption texts (and the networks they are for), the links, the
// media set, the profile set and the publishAt. A blind retry of POST
// /posts repeats them all; two STATUS posts saying the same thing at
// different times, or a LINK post and a STATUS post with one caption, are
// not copies of each other.
func duplicateKey(c *postContent) string {
	var parts []string
	net := func(n *string) string {
		if n == nil {
			return "*"
		}
		return *n
	}
	for _, cp := range c.captions {
		parts = append(parts, net(cp.Net)+":"+cp.PlainText)
	}
	for _, l := range c.links {
		parts = append(parts, net(l.Net)+":"+l.Link)
	}
	mediaIDs := referencedMedia(c)
	slices.Sort(mediaIDs)
	profiles := slices.Clone(c.profileIDs)
	slices.Sort(profiles)
	profiles = slices.Compact(profiles)
	at := ""
	if !c.publishAt.IsZero() {
		at = c.publishAt.Format(time.RFC3339Nano)
	}
	return string(c.typ) + "\x01" + strings.Join(parts, "\x00") + "\x01" + strings.Join(mediaIDs, "\x00") +
		"\x01" + strings.Join(profiles, "\x00") + "\x01" + at
}

// MediaInfo is everything the sandbox knows about one media.
type MediaInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// State is the API status (UPLOADING, PROCESSING, SUCCESS, ERROR), or
	// StateDeleted or StateExpired.
	State               string `json:"state"`
	CreateReplyLost     bool   `json:"createReplyLost"`
	CreateReplyUnusable bool   `json:"createReplyUnusable"`
	// Uploads counts complete uploads; Bytes, SHA256 and ContentType (as
	// sniffed) describe the last one.
	Uploads         int       `json:"uploads"`
	Bytes           int64     `json:"bytes"`
	SHA256          string    `json:"sha256,omitempty"`
	ContentType     string    `json:"contentType,omitempty"`
	ErrorReason     string    `json:"errorReason,omitempty"`
	CreatedAt       time.Time `json:"createdAt"`
	UploadExpiresAt time.Time `json:"uploadExpiresAt"`
	ConfirmedAt     time.Time `json:"confirmedAt,omitzero"`
	DeletedAt       time.Time `json:"deletedAt,omitzero"`
	// Declared is what POST /media declared; Probe what the last upload
	// turned out to be (nil when it could not be read, ProbeError says
	// why).
	Declared   Declared        `json:"declared"`
	Probe      *mediainfo.Info `json:"probe,omitempty"`
	ProbeError string          `json:"probeError,omitempty"`
}

// Declared are the specs a POST /media declared; nil when not.
type Declared struct {
	Width    *int64   `json:"width,omitempty"`
	Height   *int64   `json:"height,omitempty"`
	Duration *float64 `json:"duration,omitempty"`
	FileSize *int64   `json:"fileSize,omitempty"`
}

func (s *Server) mediaInfo(m *media, now time.Time) MediaInfo {
	info := MediaInfo{
		ID: m.id, Name: m.name, State: s.mediaState(m, now), CreateReplyLost: m.createReplyLost, CreateReplyUnusable: m.createReplyUnusable,
		Uploads: m.uploads, Bytes: m.bytes, ContentType: m.sniffed, ErrorReason: m.errReason,
		CreatedAt: m.createdAt, UploadExpiresAt: m.uploadExpires, ConfirmedAt: m.confirmedAt, DeletedAt: m.deletedAt,
	}
	if m.uploaded {
		info.SHA256 = hex.EncodeToString(m.sum[:])
	}
	info.Declared = Declared{Width: m.width, Height: m.height, Duration: m.duration, FileSize: m.fileSize}
	if m.info.Kind != "" {
		probe := m.info
		info.Probe = &probe
	}
	info.ProbeError = m.probeErr
	if info.State == string(swonkie.MediaUploading) || info.State == string(swonkie.MediaProcessing) {
		info.ErrorReason = "" // not decided yet as far as anyone can see
	}
	return info
}

// Media looks up a media by id, deleted and expired ones included.
func (s *Server) Media(id string) (MediaInfo, bool) {
	now := s.lock()
	defer s.mu.Unlock()
	m := s.media[id]
	if m == nil {
		return MediaInfo{}, false
	}
	return s.mediaInfo(m, now), true
}

// AllMedia lists every media ever created, oldest first.
func (s *Server) AllMedia() []MediaInfo {
	now := s.lock()
	defer s.mu.Unlock()
	out := make([]MediaInfo, len(s.mediaOrder))
	for i, m := range s.mediaOrder {
		out[i] = s.mediaInfo(m, now)
	}
	return out
}

// PostInfo is everything the sandbox knows about one post.
type PostInfo struct {
	// Post is the API's view of it (as it was when deleted, for a deleted
	// post).
	Post                swonkie.Post `json:"post"`
	Deleted             bool         `json:"deleted"`
	CreateReplyLost     bool         `json:"createReplyLost"`
	CreateReplyUnusable bool         `json:"createReplyUnusable"`
	PublishedAt         time.Time    `json:"publishedAt,omitzero"`
	// PublishError says why the last publication failed, if it did.
	PublishError string `json:"publishError,omitempty"`
}

func (s *Server) postInfo(p *post) PostInfo {
	return PostInfo{Post: s.postView(p), Deleted: !p.deletedAt.IsZero(), CreateReplyLost: p.createReplyLost, CreateReplyUnusable: p.createReplyUnusable,
		PublishedAt: p.publishedAt, PublishError: p.failReason}
}

// Post looks up a post by id, deleted ones included.
func (s *Server) Post(id string) (PostInfo, bool) {
	s.lock()
	defer s.mu.Unlock()
	p := s.posts[id]
	if p == nil {
		return PostInfo{}, false
	}
	return s.postInfo(p), true
}

// AllPosts lists every post ever created, oldest first.
func (s *Server) AllPosts() []PostInfo {
	s.lock()
	defer s.mu.Unlock()
	out := make([]PostInfo, len(s.postOrder))
	for i, p := range s.postOrder {
		out[i] = s.postInfo(p)
	}
	return out
}

package sandbox

import (
	"encoding/hex"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
)

// counters are the running totals behind Stats.
type counters struct {
	mediaCreated, mediaUploaded, mediaConfirmed, mediaDeleted, mediaExpired int
	uploads                                                                 int
	bytesUploaded                                                           int64
	postsCreated, postsDeleted, published, publishFailed                    int
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
	// Orphaned are media created and never deleted by the client (expired
	// ones included) that no PUBLISHED post references.
	Orphaned []string `json:"orphaned"`
}

// PostStats are the post tallies.
type PostStats struct {
	Created       int      `json:"created"`
	Deleted       int      `json:"deleted"`
	Published     int      `json:"published"`
	PublishFailed int      `json:"publishFailed"`
	LostCreates   []string `json:"lostCreates"`
	// Duplicates groups live posts with the same caption texts, media set
	// and profile set: the trace of a blind retry of POST /posts.
	Duplicates [][]string `json:"duplicates"`
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
func (s *Server) Stats() Stats {
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
		Requests:   map[string]map[int]int{},
		Faults:     map[string]map[FaultKind]int{},
		Violations: append([]Violation{}, s.violations...),
	}
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
		if m.deletedAt.IsZero() && !inPublished[m.id] {
			st.Media.Orphaned = append(st.Media.Orphaned, m.id)
		}
	}
	groups := map[string][]string{}
	var order []string
	for _, p := range s.postOrder {
		if p.createReplyLost {
			st.Posts.LostCreates = append(st.Posts.LostCreates, p.id)
		}
		if !p.deletedAt.IsZero() {
			continue
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

// duplicateKey is what makes two posts the same post for a reader: the
// caption texts, the media set and the profile set.
func duplicateKey(c *postContent) string {
	var texts []string
	for _, cp := range c.captions {
		texts = append(texts, cp.PlainText)
	}
	mediaIDs := referencedMedia(c)
	slices.Sort(mediaIDs)
	profiles := slices.Clone(c.profileIDs)
	slices.Sort(profiles)
	profiles = slices.Compact(profiles)
	return strings.Join(texts, "\x00") + "\x01" + strings.Join(mediaIDs, "\x00") + "\x01" + strings.Join(profiles, "\x00")
}

// MediaInfo is everything the sandbox knows about one media.
type MediaInfo struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// State is the API status (UPLOADING, PROCESSING, SUCCESS, ERROR), or
	// StateDeleted or StateExpired.
	State           string `json:"state"`
	CreateReplyLost bool   `json:"createReplyLost"`
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
}

func (s *Server) mediaInfo(m *media, now time.Time) MediaInfo {
	info := MediaInfo{
		ID: m.id, Name: m.name, State: s.mediaState(m, now), CreateReplyLost: m.createReplyLost,
		Uploads: m.uploads, Bytes: m.bytes, ContentType: m.sniffed, ErrorReason: m.errReason,
		CreatedAt: m.createdAt, UploadExpiresAt: m.uploadExpires, ConfirmedAt: m.confirmedAt, DeletedAt: m.deletedAt,
	}
	if m.uploaded {
		info.SHA256 = hex.EncodeToString(m.sum[:])
	}
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
	Post            swonkie.Post `json:"post"`
	Deleted         bool         `json:"deleted"`
	CreateReplyLost bool         `json:"createReplyLost"`
	PublishedAt     time.Time    `json:"publishedAt,omitzero"`
	// PublishError says why the last publication failed, if it did.
	PublishError string `json:"publishError,omitempty"`
}

func (s *Server) postInfo(p *post) PostInfo {
	return PostInfo{Post: s.postView(p), Deleted: !p.deletedAt.IsZero(), CreateReplyLost: p.createReplyLost,
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

package swonkie

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// PostType decides which content a post needs (MEDIA needs medias, LINK
// needs links, STATUS is text only).
type PostType string

// Post types.
const (
	PostMedia  PostType = "MEDIA"
	PostLink   PostType = "LINK"
	PostStatus PostType = "STATUS"
	PostStory  PostType = "STORY"
	PostReel   PostType = "REEL"
)

// Stage is where a post is in its workflow.
type Stage string

// Post stages. A post made without publishAt is an IDEA, with one a DRAFT;
// everything else moves through ChangeStage.
const (
	StageIdea           Stage = "IDEA"
	StageDraft          Stage = "DRAFT"
	StageTeamReview     Stage = "TEAM_REVIEW"
	StageTeamApproved   Stage = "TEAM_APPROVED"
	StageTeamRevision   Stage = "TEAM_REVISION"
	StageClientReview   Stage = "CLIENT_REVIEW"
	StageClientApproved Stage = "CLIENT_APPROVED"
	StageClientRevision Stage = "CLIENT_REVISION"
	StageScheduled      Stage = "SCHEDULED"
	StagePublished      Stage = "PUBLISHED"
	StageArchive        Stage = "ARCHIVE"
)

// AllStages lists every known stage; ListPosts needs them spelled out to
// see ARCHIVE posts, which are hidden by default.
var AllStages = []Stage{
	StageIdea, StageDraft, StageTeamReview, StageTeamApproved, StageTeamRevision,
	StageClientReview, StageClientApproved, StageClientRevision,
	StageScheduled, StagePublished, StageArchive,
}

// StageAction is the {stage} of PATCH /posts/{id}/stage/{stage}: an action,
// not a stage value.
type StageAction string

// Stage actions.
const (
	ActionPublishNow StageAction = "publishNow"
	ActionSchedule   StageAction = "schedule"
	ActionUnschedule StageAction = "unschedule"
	ActionTeamReview StageAction = "teamReview"
	ActionApprove    StageAction = "approve"
	ActionReject     StageAction = "reject"
)

// Publish statuses seen on a post's profiles once publishing starts. The
// values are not documented; these are the sandbox's, and a client should
// treat anything else as "still going".
const (
	PublishPending   = "PENDING"
	PublishPublished = "PUBLISHED"
	PublishError     = "ERROR"
)

// Networks are the net codes a caption, media group or link may target
// (swonkie-api.md §5). Only "facebook" is documented literally; the others
// follow its pattern (lower-case net.code values of GET /profiles).
var Networks = []string{"facebook", "instagram", "linkedin", "tiktok", "threads", "youtube", "gmb"}

// CallToActionNoButton is the only Facebook carousel callToAction the docs
// show; the enum's other values are not documented.
const CallToActionNoButton = "NO_BUTTON"

// MinCarouselCards is the fewest cards a Facebook carousel takes (§5).
const MinCarouselCards = 2

// MaxLinkLength is the longest link a carousel card (and a LINK post's
// link) takes, in bytes (§5).
const MaxLinkLength = 2000

// CheckLink says what is wrong with a link Swonkie is to publish, or "":
// it must be an absolute http(s) URL of at most MaxLinkLength.
func CheckLink(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case strings.TrimSpace(raw) == "":
		return "required"
	case len(raw) > MaxLinkLength:
		return fmt.Sprintf("longer than %d characters", MaxLinkLength)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "must be an absolute http(s) URL"
	}
	return ""
}

// Caption is a post's text, for every network (Net nil) or one.
type Caption struct {
	PlainText    string   `json:"plainText"`
	FirstComment *Comment `json:"firstComment,omitempty"`
	Net          *string  `json:"net"`
}

// Comment is a first comment.
type Comment struct {
	PlainText string `json:"plainText"`
}

// MediaGroup is the media of a post, for every network (Net nil) or one.
type MediaGroup struct {
	MediaFiles []MediaFile `json:"mediaFiles"`
	Net        *string     `json:"net"`
}

// MediaFile references a library media by its id.
type MediaFile struct {
	MediaLibID string `json:"mediaLibId"`
}

// Link is the link of a LINK post.
type Link struct {
	Link            string  `json:"link"`
	LinkTitle       string  `json:"linkTitle,omitempty"`
	LinkDescription string  `json:"linkDescription,omitempty"`
	MediaLibID      string  `json:"mediaLibId,omitempty"`
	Net             *string `json:"net"`
}

// Briefing is the post's internal note, never published.
type Briefing struct {
	Markdown string `json:"markdown"`
}

// FacebookOptions are the facebook object of a post.
type FacebookOptions struct {
	Carousels       []CarouselCard `json:"carousels,omitempty"`
	CarouselEndCard *bool          `json:"carouselEndCard,omitempty"`
}

// CarouselCard is one card of a Facebook carousel.
type CarouselCard struct {
	Link         string `json:"link"`
	Title        string `json:"title"`
	Description  string `json:"description,omitempty"`
	MediaLibID   string `json:"mediaLibId,omitempty"`
	CallToAction string `json:"callToAction,omitempty"`
}

// InstagramOptions are the instagram object of a post.
type InstagramOptions struct {
	ShareToFeed *bool `json:"shareToFeed,omitempty"`
}

// LinkedInOptions are the linkedIn object of a post (capital I on the wire).
type LinkedInOptions struct {
	DocumentTitle string `json:"documentTitle,omitempty"`
}

// TikTokOptions are the tiktok object of a post.
type TikTokOptions struct {
	Title            string `json:"title,omitempty"`
	AutoAddMusic     *bool  `json:"autoAddMusic,omitempty"`
	DisableComments  *bool  `json:"disableComments,omitempty"`
	DisableDuet      *bool  `json:"disableDuet,omitempty"`
	DisableStitch    *bool  `json:"disableStitch,omitempty"`
	IsBrandedContent *bool  `json:"isBrandedContent,omitempty"`
	IsBrandOrganic   *bool  `json:"isBrandOrganic,omitempty"`
	IsAiGenerated    *bool  `json:"isAiGenerated,omitempty"`
}

// PostInput is the body of POST /posts and PUT /posts/{id}. On update only
// the fields sent change, and arrays replace the old ones wholesale.
type PostInput struct {
	Type       PostType          `json:"type,omitempty"`
	ProfileIDs []string          `json:"profileIds,omitempty"`
	PublishAt  *Time             `json:"publishAt,omitempty"`
	Captions   []Caption         `json:"captions,omitempty"`
	Medias     []MediaGroup      `json:"medias,omitempty"`
	Links      []Link            `json:"links,omitempty"`
	Briefing   *Briefing         `json:"briefing,omitempty"`
	Facebook   *FacebookOptions  `json:"facebook,omitempty"`
	Instagram  *InstagramOptions `json:"instagram,omitempty"`
	LinkedIn   *LinkedInOptions  `json:"linkedIn,omitempty"`
	TikTok     *TikTokOptions    `json:"tiktok,omitempty"`
	LabelIDs   []string          `json:"labelIds,omitempty"`
}

// Post is a post as the API returns it.
type Post struct {
	ID        string            `json:"id"`
	Type      PostType          `json:"type"`
	Stage     Stage             `json:"stage"`
	PublishAt *Time             `json:"publishAt,omitempty"`
	Budget    float64           `json:"budget"`
	Profiles  []PostProfile     `json:"profiles"`
	Captions  []Caption         `json:"captions,omitempty"`
	Medias    []MediaGroup      `json:"medias,omitempty"`
	Links     []Link            `json:"links,omitempty"`
	Briefing  *Briefing         `json:"briefing,omitempty"`
	Facebook  *FacebookOptions  `json:"facebook,omitempty"`
	Instagram *InstagramOptions `json:"instagram,omitempty"`
	LinkedIn  *LinkedInOptions  `json:"linkedIn,omitempty"`
	TikTok    *TikTokOptions    `json:"tiktok,omitempty"`
	LabelIDs  []string          `json:"labelIds,omitempty"`
	CreatedAt *Time             `json:"createdAt,omitempty"`
	UpdatedAt *Time             `json:"updatedAt,omitempty"`
}

// PostProfile is a profile a post targets, with its delivery progress.
type PostProfile struct {
	ID            string  `json:"id"`
	Name          string  `json:"name,omitempty"`
	Username      string  `json:"username,omitempty"`
	Net           Network `json:"net"`
	PublishStatus string  `json:"publishStatus,omitempty"`
}

// MediaLibIDs lists every media id the post's media groups reference, in
// order, once.
func (p *Post) MediaLibIDs() []string { return MediaReferences(p.Medias, nil, nil) }

// ReferencedMediaIDs lists every media id the post references anywhere:
// its media groups, its links' previews and its Facebook carousel cards.
func (p *Post) ReferencedMediaIDs() []string {
	return MediaReferences(p.Medias, p.Links, p.Facebook)
}

// MediaReferences lists, in order and once each, the media ids that media
// groups, links and Facebook carousel cards reference.
func MediaReferences(medias []MediaGroup, links []Link, fb *FacebookOptions) []string {
	var ids []string
	add := func(id string) {
		if id != "" && !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	for _, g := range medias {
		for _, f := range g.MediaFiles {
			add(f.MediaLibID)
		}
	}
	for _, l := range links {
		add(l.MediaLibID)
	}
	if fb != nil {
		for _, c := range fb.Carousels {
			add(c.MediaLibID)
		}
	}
	return ids
}

// PublishedEverywhere reports whether the post is out on every profile.
// A post out on some of them is out too: deciding whether a post went out
// takes its profiles' statuses one by one.
func (p *Post) PublishedEverywhere() bool {
	if p.Stage != StagePublished {
		return false
	}
	for _, pr := range p.Profiles {
		if pr.PublishStatus != "" && pr.PublishStatus != PublishPublished {
			return false
		}
	}
	return true
}

// PublishFailed returns the first profile whose publication failed, if any.
func (p *Post) PublishFailed() (PostProfile, bool) {
	for _, pr := range p.Profiles {
		if pr.PublishStatus == PublishError {
			return pr, true
		}
	}
	return PostProfile{}, false
}

// CreatePost creates a post. It is not idempotent: a retry after a lost
// answer makes a second post; find the first one with ListPosts instead.
func (c *Client) CreatePost(ctx context.Context, in PostInput) (*Post, error) {
	var out Post
	status, err := c.do(ctx, call{method: http.MethodPost, endpoint: "/posts", path: "/posts", body: in}, &out)
	if err != nil {
		return nil, err
	}
	if out.ID == "" {
		return nil, &UnusableAnswerError{Op: "POST /posts", Status: status, Reason: "no post id"}
	}
	return &out, nil
}

// GetPost returns a post.
func (c *Client) GetPost(ctx context.Context, id string) (*Post, error) {
	const ep = "/posts/{id}"
	if err := requireID(http.MethodGet, ep, "post", id); err != nil {
		return nil, err
	}
	var out Post
	if _, err := c.do(ctx, call{method: http.MethodGet, endpoint: ep, path: "/posts/" + escape(id)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UpdatePost changes the fields of in that are set; arrays replace the
// post's own.
func (c *Client) UpdatePost(ctx context.Context, id string, in PostInput) (*Post, error) {
	const ep = "/posts/{id}"
	if err := requireID(http.MethodPut, ep, "post", id); err != nil {
		return nil, err
	}
	var out Post
	if _, err := c.do(ctx, call{method: http.MethodPut, endpoint: ep, path: "/posts/" + escape(id), body: in}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeletePost deletes a post; one already gone counts as deleted. It does
// not delete the post's media from the library.
func (c *Client) DeletePost(ctx context.Context, id string) error {
	const ep = "/posts/{id}"
	if err := requireID(http.MethodDelete, ep, "post", id); err != nil {
		return err
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, endpoint: ep, path: "/posts/" + escape(id)}, nil)
	if IsNotFound(err) {
		return nil
	}
	return err
}

// Validation is the verdict of GET /posts/{id}/validate.
type Validation struct {
	Valid  bool      `json:"valid"`
	Errors []Problem `json:"errors,omitempty"`
	// Status is the HTTP status the verdict came with: 200, or a 400 or
	// 422 for an invalid post (the docs allow both, §4.9).
	Status int `json:"-"`
}

// ValidatePost runs publishing's checks without side effects. An invalid
// post is a verdict, not an error, whether the server says so with 200 or
// with 400.
func (c *Client) ValidatePost(ctx context.Context, id string) (*Validation, error) {
	const ep = "/posts/{id}/validate"
	if err := requireID(http.MethodGet, ep, "post", id); err != nil {
		return nil, err
	}
	var raw struct {
		Valid  *bool             `json:"valid"`
		Errors []json.RawMessage `json:"errors"`
	}
	status, err := c.do(ctx, call{method: http.MethodGet, endpoint: ep, path: "/posts/" + escape(id) + "/validate",
		accept: []int{http.StatusBadRequest, http.StatusUnprocessableEntity}}, &raw)
	if err != nil {
		return nil, err
	}
	if raw.Valid == nil && status >= 400 {
		// A 400 without a verdict is an ordinary error after all.
		return nil, &Error{Method: http.MethodGet, Endpoint: ep, StatusCode: status, Message: "answer has no verdict"}
	}
	v := &Validation{Valid: raw.Valid == nil || *raw.Valid, Status: status}
	if status >= 400 {
		v.Valid = false
	}
	for _, p := range raw.Errors {
		v.Errors = append(v.Errors, c.problem(p))
	}
	return v, nil
}

// StageChange is the answer to a stage action: {"success": true} per the
// reference, plus the new stage per the Quick Start.
type StageChange struct {
	Success bool  `json:"success"`
	Stage   Stage `json:"stage,omitempty"`
}

// ChangeStage applies a stage action (publishNow, schedule, …). Any 2xx is
// success. Repeating schedule or publishNow is not known to be safe: read
// the post's stage before trying again.
func (c *Client) ChangeStage(ctx context.Context, id string, action StageAction) (*StageChange, error) {
	const ep = "/posts/{id}/stage/{stage}"
	if err := requireID(http.MethodPatch, ep, "post", id); err != nil {
		return nil, err
	}
	if action == "" {
		return nil, requireID(http.MethodPatch, ep, "stage action", "")
	}
	out := StageChange{Success: true}
	if _, err := c.do(ctx, call{method: http.MethodPatch, endpoint: ep,
		path: "/posts/" + escape(id) + "/stage/" + escape(string(action))}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListPostsParams filters and pages GET /posts. Zero values mean "no filter"
// (and, for Stages, "every stage but ARCHIVE", the server's default).
type ListPostsParams struct {
	Search     string
	LabelIDs   []string
	Stages     []Stage
	Types      []PostType
	ProfileIDs []string
	From, To   *Time
	Page       int // 1-based
	Limit      int
}

// PostPage is one page of posts.
type PostPage struct {
	Posts []Post
	Page  int
	Limit int
	Total int
	// More reports whether a next page exists.
	More bool
}

// ListPosts returns one page of the workspace's posts. The envelope is not
// documented: a bare array, or an object holding the list under data,
// items, posts or results, with page/limit/total at its top or under meta
// or pagination, are all read.
func (c *Client) ListPosts(ctx context.Context, p ListPostsParams) (*PostPage, error) {
	q := url.Values{}
	if p.Search != "" {
		q.Set("search", p.Search)
	}
	addList(q, "labelIds", p.LabelIDs)
	addList(q, "profileIds", p.ProfileIDs)
	stages := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		stages[i] = string(s)
	}
	addList(q, "stages", stages)
	types := make([]string, len(p.Types))
	for i, t := range p.Types {
		types[i] = string(t)
	}
	addList(q, "types", types)
	if p.From != nil {
		q.Set("from", p.From.UTC().Format(TimeLayout))
	}
	if p.To != nil {
		q.Set("to", p.To.UTC().Format(TimeLayout))
	}
	if p.Page > 0 {
		q.Set("page", strconv.Itoa(p.Page))
	}
	if p.Limit > 0 {
		q.Set("limit", strconv.Itoa(p.Limit))
	}
	var raw json.RawMessage
	status, err := c.do(ctx, call{method: http.MethodGet, endpoint: "/posts", path: "/posts", query: q}, &raw)
	if err != nil {
		return nil, err
	}
	var posts []Post
	env, err := readList(raw, &posts)
	if err != nil {
		return nil, &UnusableAnswerError{Op: "GET /posts", Status: status, Reason: err.Error()}
	}
	page := &PostPage{Posts: posts, Page: env.Page, Limit: env.Limit, Total: env.Total}
	if page.Page == 0 {
		page.Page = max(p.Page, 1)
	}
	switch {
	case env.More != nil:
		page.More = *env.More
	case env.Total > 0 && page.Limit > 0:
		page.More = page.Page*page.Limit < env.Total
	}
	return page, nil
}

func addList(q url.Values, key string, vals []string) {
	if len(vals) > 0 {
		q.Set(key, strings.Join(vals, ","))
	}
}

package tasks

import (
	"context"
	"slices"

	"github.com/mediaflow/mediaflow/swonkie"
)

// Adoption: recognising the posts a pipeline made, using only what the
// Swonkie docs promise. A post is ours when its briefing carries our marker
// (if the server shows briefings at all) or when it references one of this
// pipeline's media ids: media ids are made for one pipeline and recorded
// before any post is created, so no other post can name them. List entries
// may lack the media (the docs do not say what they carry); such an entry
// made after the pipeline started is read whole.

// adoptPages and adoptPageSize bound the search: the posts of the
// pipeline's profiles, every stage (ARCHIVE too), newest pages first.
const (
	adoptPages    = 5
	adoptPageSize = 100
)

// findOurPosts returns the posts this pipeline made, oldest first.
func (p *pipeline) findOurPosts(ctx context.Context, rec *Record) ([]swonkie.Post, error) {
	var ours []swonkie.Post
	params := swonkie.ListPostsParams{Stages: swonkie.AllStages, ProfileIDs: rec.Request.Post.ProfileIDs, Limit: adoptPageSize}
	for page := 1; page <= adoptPages; page++ {
		params.Page = page
		got, err := p.api.ListPosts(ctx, params)
		if err != nil {
			return nil, err
		}
		for i := range got.Posts {
			post := &got.Posts[i]
			if len(post.Medias) == 0 && !hasMarker(post, rec.ID) && (post.CreatedAt == nil || !post.CreatedAt.Before(rec.CreatedAt)) {
				full, err := p.api.GetPost(ctx, post.ID)
				if swonkie.IsNotFound(err) {
					continue
				}
				if err != nil {
					return nil, err
				}
				post = full
			}
			if hasMarker(post, rec.ID) || referencesAny(post, rec.mediaIDs()) {
				ours = append(ours, *post)
			}
		}
		if !got.More || len(got.Posts) == 0 {
			break
		}
	}
	slices.SortStableFunc(ours, func(a, b swonkie.Post) int {
		switch {
		case a.CreatedAt == nil || b.CreatedAt == nil:
			return 0
		case a.CreatedAt.Before(b.CreatedAt.Time):
			return -1
		case b.CreatedAt.Before(a.CreatedAt.Time):
			return 1
		}
		return 0
	})
	return ours, nil
}

func referencesAny(post *swonkie.Post, ids []string) bool {
	for _, id := range post.MediaLibIDs() {
		if id != "" && slices.Contains(ids, id) {
			return true
		}
	}
	return false
}

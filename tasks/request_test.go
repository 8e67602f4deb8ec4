package tasks

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	future := now.Add(2 * time.Hour)
	soon := now.Add(10 * time.Second)
	check := func(src string) error {
		if strings.Contains(src, "..") {
			return errors.New("outside MEDIA_ROOT")
		}
		return nil
	}
	supported := func(ct string) bool { return strings.HasPrefix(ct, "image/") || strings.HasPrefix(ct, "video/") }
	valid := func() Request {
		return Request{
			Media:  []MediaSource{{Source: "a.jpg"}},
			Post:   &PostSpec{ProfileIDs: []string{"p1"}, Caption: "hello"},
			Action: ActionPublishNow,
		}
	}
	tests := []struct {
		name   string
		mutate func(*Request)
		fields []string // problems expected, by field; none means valid
	}{
		{"valid publishNow", func(*Request) {}, nil},
		{"valid schedule inferred from publishAt", func(r *Request) { r.Action = ""; r.Post.PublishAt = &future }, nil},
		{"valid draft on an existing post", func(r *Request) { r.Post = nil; r.PostID = "UG9zdA=="; r.Action = ActionDraft }, nil},
		{"no media", func(r *Request) { r.Media = nil }, []string{"media"}},
		{"too many media", func(r *Request) {
			r.Media = make([]MediaSource, MaxMedia+1)
			for i := range r.Media {
				r.Media[i].Source = "x.jpg"
			}
		}, []string{"media"}},
		{"empty source", func(r *Request) { r.Media[0].Source = " " }, []string{"media[0].source"}},
		{"source refused by the checker", func(r *Request) { r.Media[0].Source = "../etc/passwd" }, []string{"media[0].source"}},
		{"unsupported declared type", func(r *Request) { r.Media[0].ContentType = "text/plain" }, []string{"media[0].contentType"}},
		{"neither post nor postId", func(r *Request) { r.Post = nil }, []string{"post"}},
		{"both post and postId", func(r *Request) { r.PostID = "x" }, []string{"postId"}},
		{"no profile", func(r *Request) { r.Post.ProfileIDs = nil }, []string{"post.profileIds"}},
		{"duplicate profile", func(r *Request) { r.Post.ProfileIDs = []string{"p", "p"} }, []string{"post.profileIds[1]"}},
		{"unknown post type", func(r *Request) { r.Post.Type = "CAROUSEL" }, []string{"post.type"}},
		{"media post without caption", func(r *Request) { r.Post.Caption = "" }, []string{"post.caption"}},
		{"story without caption is fine", func(r *Request) { r.Post.Type = "STORY"; r.Post.Caption = "" }, nil},
		{"caption too long", func(r *Request) { r.Post.Caption = strings.Repeat("é", MaxCaptionRunes+1) }, []string{"post.caption"}},
		{"caption with a NUL byte", func(r *Request) { r.Post.Caption = "hello\x00world" }, []string{"post.caption"}},
		{"caption with an escape", func(r *Request) { r.Post.Caption = "red \x1b[31m" }, []string{"post.caption"}},
		{"caption with a C1 control", func(r *Request) { r.Post.Caption = "next\u0085line" }, []string{"post.caption"}},
		{"caption not UTF-8", func(r *Request) { r.Post.Caption = "caf\xe9" }, []string{"post.caption"}},
		{"caption with tabs, line breaks and emoji is fine", func(r *Request) { r.Post.Caption = "one\ttwo\r\nthree 🎉 ünï" }, nil},
		{"first comment with a NUL byte", func(r *Request) { r.Post.FirstComment = "\x00" }, []string{"post.firstComment"}},
		{"media name with a NUL byte", func(r *Request) { r.Media[0].Name = "a\x00.jpg" }, []string{"media[0].name"}},
		{"schedule without publishAt", func(r *Request) { r.Action = ActionSchedule }, []string{"post.publishAt"}},
		{"schedule too soon", func(r *Request) { r.Action = ActionSchedule; r.Post.PublishAt = &soon }, []string{"post.publishAt"}},
		{"publishNow with publishAt", func(r *Request) { r.Post.PublishAt = &future }, []string{"post.publishAt"}},
		{"no action and no publishAt", func(r *Request) { r.Action = "" }, []string{"action"}},
		{"unknown action", func(r *Request) { r.Action = "later" }, []string{"action"}},
		{"review", func(r *Request) { r.Action = ActionReview }, nil},
		{"review with a publishAt", func(r *Request) { r.Action = ActionReview; r.Post.PublishAt = &soon }, nil},
		{"unknown cleanup", func(r *Request) { r.Cleanup = "sometimes" }, []string{"cleanup"}},
		{"key too long", func(r *Request) { r.Key = strings.Repeat("k", MaxKeyLength+1) }, []string{"key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := valid()
			tt.mutate(&r)
			r.normalize()
			err := r.validate(now, time.Minute, check, nil, supported)
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			got := map[string]bool{}
			for _, p := range ve.Problems {
				got[p.Field] = true
			}
			for _, f := range tt.fields {
				if !got[f] {
					t.Errorf("no problem reported for %s; got %v", f, ve.Problems)
				}
			}
			if len(ve.Problems) != len(tt.fields) {
				t.Errorf("got %d problems, want %d: %v", len(ve.Problems), len(tt.fields), ve.Problems)
			}
		})
	}
}

func TestNormalizeDefaults(t *testing.T) {
	t.Parallel()
	at := time.Date(2027, 1, 1, 12, 0, 0, 0, time.FixedZone("x", 3600))
	r := Request{Post: &PostSpec{PublishAt: &at}, Key: "  k  "}
	r.normalize()
	if r.Post.Type != "MEDIA" || r.Action != ActionSchedule || r.Cleanup != CleanupAfterPublish || r.Key != "k" {
		t.Fatalf("defaults not applied: %+v / %+v", r, *r.Post)
	}
	if r.Post.PublishAt.Location() != time.UTC {
		t.Fatalf("publishAt not in UTC: %v", r.Post.PublishAt)
	}
}

func TestPipelineIDFromKey(t *testing.T) {
	t.Parallel()
	a1, a2, b := PipelineID("k1"), PipelineID("k1"), PipelineID("k2")
	if a1 != a2 {
		t.Fatal("same key, different ids")
	}
	if a1 == b {
		t.Fatal("different keys, same id")
	}
	if x, y := PipelineID(""), PipelineID(""); x == y {
		t.Fatal("keyless ids repeat")
	}
}

func TestRedactSource(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/srv/media/a.jpg", "/srv/media/a.jpg"},
		{"https://cdn.example.com/a.jpg", "https://cdn.example.com/a.jpg"},
		{"https://bucket.s3.amazonaws.com/a.jpg?X-Amz-Signature=abc&X-Amz-Credential=AKIA", "https://bucket.s3.amazonaws.com/a.jpg?redacted"},
		{"https://user:pass@host/a.jpg#frag", "https://redacted@host/a.jpg"},
	}
	for _, tt := range tests {
		if got := RedactSource(tt.in); got != tt.want {
			t.Errorf("RedactSource(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

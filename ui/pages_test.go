package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/tasks"
)

// The list without JavaScript: newest first, searched by key or id,
// filtered by state, paged with the API's cursors; what it refuses it
// says, and no page shows a source's credentials.
func TestListPages(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var ids []string
	for i := range pageSize + 2 {
		ids = append(ids, w.publish(t, fmt.Sprintf("list-%02d", i), tasks.ActionPublishNow, w.profile).ID)
	}
	b := w.browser(t)
	b.mustLogin(tokenA)

	first := b.get("/ui/")
	if first.status != http.StatusOK {
		t.Fatalf("list: %d", first.status)
	}
	newest, oldest := ids[len(ids)-1], ids[0]
	if !strings.Contains(first.body, newest) || strings.Contains(first.body, oldest) {
		t.Error("the first page is not the newest pipelines")
	}
	if !strings.Contains(first.body, `data-refresh=`) {
		t.Error("a list of pending pipelines does not ask to refresh")
	}
	next := nextLink.FindStringSubmatch(first.body)
	if next == nil {
		t.Fatalf("no next page link on a full page:\n%s", first.body)
	}
	for _, want := range []string{"1–25 of 27", `id="count-pending"`, "pending</span> <b>27</b>", "caption of list-26"} {
		if !strings.Contains(first.body, want) {
			t.Errorf("the first page lacks %q", want)
		}
	}
	second := b.get(strings.ReplaceAll(next[1], "&amp;", "&"))
	if !strings.Contains(second.body, oldest) || strings.Contains(second.body, newest) || !strings.Contains(second.body, `id="newest"`) ||
		!strings.Contains(second.body, "26–27 of 27") {
		t.Errorf("the second page: %d\n%s", second.status, second.body)
	}
	prev := prevLink.FindStringSubmatch(second.body)
	if prev == nil {
		t.Fatal("no previous page link on the second page")
	}
	if back := b.get(strings.ReplaceAll(prev[1], "&amp;", "&")); !strings.Contains(back.body, newest) || !strings.Contains(back.body, "1–25 of 27") {
		t.Errorf("the previous page is not the first: %d", back.status)
	}

	tests := []struct {
		name   string
		query  url.Values
		status int
		want   []string
		not    []string
	}{
		{"by key", url.Values{"q": {"list-03"}}, http.StatusOK, []string{ids[3]}, []string{ids[4]}},
		{"by id", url.Values{"q": {ids[5]}}, http.StatusOK, []string{ids[5], "list-05"}, []string{ids[4]}},
		{"by key, state matching", url.Values{"q": {"list-03"}, "state": {"pending"}}, http.StatusOK, []string{ids[3]}, nil},
		{"by key, state not matching", url.Values{"q": {"list-03"}, "state": {"failed"}}, http.StatusOK, []string{"No pipelines match these filters"}, []string{ids[3]}},
		{"unknown key", url.Values{"q": {"nobody"}}, http.StatusOK, []string{"No pipelines match these filters"}, nil},
		{"unknown id", url.Values{"q": {"00000000-0000-4000-8000-000000000000"}}, http.StatusOK, []string{"No pipeline has the id"}, nil},
		{"text in part of the key", url.Values{"q": {"list-0"}}, http.StatusOK, []string{ids[0], ids[9], "10 shown"}, []string{ids[10]}},
		{"text in the caption", url.Values{"q": {"CAPTION of list-2"}}, http.StatusOK, []string{ids[20], ids[26]}, []string{ids[19]}},
		{"a profile", url.Values{"profile": {w.profile}, "q": {"list-1"}}, http.StatusOK, []string{ids[10]}, nil},
		{"another profile", url.Values{"profile": {"profile-2"}}, http.StatusOK, []string{"No pipelines match these filters"}, []string{ids[0]}},
		{"state filter", url.Values{"state": {"succeeded"}}, http.StatusOK, []string{"No pipelines match these filters"}, []string{ids[0]}},
		{"several states", url.Values{"state": {"succeeded", "pending"}}, http.StatusOK, []string{newest, "1–25 of 27"}, nil},
		{"created today", url.Values{"from": {time.Now().UTC().Format("2006-01-02")}, "to": {time.Now().UTC().Format("2006-01-02")}}, http.StatusOK, []string{newest}, nil},
		{"created before", url.Values{"to": {"2020-01-01"}}, http.StatusOK, []string{"No pipelines match"}, []string{newest}},
		{"not a date", url.Values{"from": {"yesterday"}}, http.StatusBadRequest, []string{"is not a date"}, nil},
		{"unknown state", url.Values{"state": {"bogus"}}, http.StatusBadRequest, []string{"There is no state “bogus”"}, nil},
		{"forged cursor", url.Values{"cursor": {"not-a-cursor"}}, http.StatusBadRequest, []string{"not one these pages made"}, nil},
		{"markup in the search", url.Values{"q": {`<script>alert(1)</script>`}}, http.StatusOK, []string{"&lt;script&gt;"}, []string{"<script>alert"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := b.get("/ui/?" + tt.query.Encode())
			if a.status != tt.status {
				t.Fatalf("status %d, want %d", a.status, tt.status)
			}
			for _, s := range tt.want {
				if !strings.Contains(a.body, s) {
					t.Errorf("page lacks %q", s)
				}
			}
			for _, s := range tt.not {
				if strings.Contains(a.body, s) {
					t.Errorf("page has %q", s)
				}
			}
		})
	}

	detail := b.get("/ui/pipelines/" + ids[0])
	for _, want := range []string{"list-00", "pic.png", "/remote.png?redacted", `id="cancel"`, "accepted", "attempt 1"} {
		if !strings.Contains(detail.body, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	for _, page := range []answer{first, second, detail} {
		if strings.Contains(page.body, secretInURL) {
			t.Error("a page shows a source's credentials")
		}
	}
}

var (
	nextLink = regexp.MustCompile(`id="next-page" href="([^"]+)"`)
	prevLink = regexp.MustCompile(`id="prev-page" href="([^"]+)"`)
)

// Attempts count up after each retry of the same step for the same item,
// and other steps or items keep their own count.
func TestTimelineAttempts(t *testing.T) {
	t.Parallel()
	zero, one := 0, 1
	at := time.Unix(0, 0)
	h := []tasks.Event{
		{At: at, Step: tasks.StepUpload, Item: &zero, Outcome: "retry"},
		{At: at, Step: tasks.StepUpload, Item: &one, Outcome: "ok"},
		{At: at, Step: tasks.StepUpload, Item: &zero, Outcome: "rate_limited"},
		{At: at, Step: tasks.StepUpload, Item: &zero, Outcome: "ok"},
		{At: at, Step: tasks.StepAttach, Outcome: "failed"},
		{At: at, Step: tasks.StepAttach, Outcome: "info"},
	}
	want := []int{1, 1, 2, 3, 1, 1}
	for i, e := range timeline(h) {
		if e.Attempt != want[i] {
			t.Errorf("event %d (%s %s): attempt %d, want %d", i, e.Step, e.Outcome, e.Attempt, want[i])
		}
	}
}

// The detail page says what the post says: its type, the caption of every
// network and of each network with its own, the option objects, labels,
// and which file goes to one network or shows on a card; markup in a
// caption is shown, not run.
func TestDetailShowsWhatThePostSays(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	yes, one := true, 1
	rec, _, err := w.client.Publish(context.Background(), tasks.Request{
		Media: []tasks.MediaSource{{Source: "pic.png"}, {Source: "pic.png"}, {Source: "pic.png", Net: "tiktok"}},
		Post: &tasks.PostSpec{ProfileIDs: []string{w.profile}, Caption: "For everyone <b>bold</b>",
			Captions: []tasks.CaptionFor{{Net: "instagram", Text: "For Instagram", FirstComment: "link in bio"}},
			Facebook: &tasks.FacebookSpec{Carousels: []tasks.CarouselCard{
				{Link: "https://shop.example/a", Title: "Sandals", MediaIndex: &one}, {Link: "https://shop.example/b", Title: "Hats"}}},
			TikTok: &swonkie.TikTokOptions{IsBrandedContent: &yes, IsAiGenerated: &yes},
			Labels: []string{"Summer 2030"}},
		Action: tasks.ActionReview})
	if err != nil {
		t.Fatal(err)
	}
	b := w.browser(t)
	b.mustLogin(tokenA)
	page := b.get("/ui/pipelines/" + rec.ID)
	for _, want := range []string{
		"<dt>Type</dt><dd>MEDIA</dd>",
		"<dt>Caption (every network)</dt><dd>For everyone &lt;b&gt;bold&lt;/b&gt;</dd>",
		"<dt>Caption (instagram)</dt><dd>For Instagram</dd>",
		"<dt>Caption (instagram), first comment</dt><dd>link in bio</dd>",
		"<dt>Facebook card 1</dt><dd>Sandals → https://shop.example/a (image: item 2)</dd>",
		"<dt>TikTok</dt><dd>branded content: yes; AI-generated: yes</dd>",
		"<dt>Labels</dt><dd>Summer 2030</dd>",
		"shown by post.facebook.carousels[0]",
		"tiktok only",
		"review",
	} {
		if !strings.Contains(page.body, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	if strings.Contains(page.body, "<b>bold</b>") {
		t.Error("markup in a caption is not escaped")
	}
}

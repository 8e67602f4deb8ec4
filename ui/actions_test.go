package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/tasks"
)

// Every action asks first: a GET of its page only asks (nothing changes),
// and its POST acts only with the session's CSRF token. A bulk cancel
// lists what was ticked, acts on confirm=yes only, and reports numbers;
// what it cannot cancel it counts as left alone.
func TestActionsAskFirstAndNeedTheCSRFToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t, worldOptions{})
	var ids []string
	for _, key := range []string{"act-0", "act-1", "act-2", "act-3"} {
		ids = append(ids, w.publish(t, key, tasks.ActionPublishNow, w.profile).ID)
	}
	b := w.browser(t)
	b.mustLogin(tokenA)
	csrf := b.csrf("/ui/")
	cancelled := func(id string) bool {
		t.Helper()
		rec, err := w.client.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return rec.CancelRequested
	}

	// One pipeline: GET asks, POST without the token is refused.
	ask := b.get("/ui/pipelines/" + ids[0] + "/cancel")
	if ask.status != http.StatusOK || !strings.Contains(ask.body, "Cancel this pipeline?") || !strings.Contains(ask.body, `action="/ui/pipelines/`+ids[0]+`/cancel"`) {
		t.Fatalf("the cancel's question: %d\n%s", ask.status, ask.body)
	}
	if cancelled(ids[0]) {
		t.Fatal("asking cancelled the pipeline")
	}
	if a := b.do(http.MethodPost, "/ui/pipelines/"+ids[0]+"/redeliver", url.Values{}, nil); a.status != http.StatusForbidden {
		t.Errorf("a redelivery without CSRF: %d", a.status)
	}
	if a := b.do(http.MethodPost, "/ui/pipelines/"+ids[0]+"/redeliver", url.Values{"csrf": {csrf}}, nil); a.status != http.StatusSeeOther ||
		a.header.Get("Location") != "/ui/pipelines/"+ids[0]+"?notice=no-webhook" {
		t.Errorf("a redelivery of a pipeline without webhook: %d %s", a.status, a.header.Get("Location"))
	}

	// A replay: asked first, refused without the token, and a pipeline
	// that runs is not replayed.
	if ask := b.get("/ui/pipelines/" + ids[0] + "/replay"); ask.status != http.StatusOK || !strings.Contains(ask.body, "Replay this pipeline?") {
		t.Errorf("the replay's question: %d", ask.status)
	}
	if a := b.do(http.MethodPost, "/ui/pipelines/"+ids[0]+"/replay", url.Values{}, nil); a.status != http.StatusForbidden {
		t.Errorf("a replay without CSRF: %d", a.status)
	}
	if a := b.do(http.MethodPost, "/ui/pipelines/"+ids[0]+"/replay", url.Values{"csrf": {csrf}}, nil); a.status != http.StatusSeeOther ||
		a.header.Get("Location") != "/ui/pipelines/"+ids[0]+"?notice=not-replayable" {
		t.Errorf("a replay of a pending pipeline: %d %s", a.status, a.header.Get("Location"))
	}

	// Bulk: three ticked (one of them twice, and a stray value).
	form := url.Values{"action": {"cancel"}, "back": {"/ui/?state=pending"}, "id": {ids[1], ids[2], ids[3], ids[2], "not-an-id"}}
	if a := b.do(http.MethodPost, "/ui/bulk", form, nil); a.status != http.StatusForbidden {
		t.Errorf("a bulk action without CSRF: %d", a.status)
	}
	form.Set("csrf", csrf)
	q := b.do(http.MethodPost, "/ui/bulk", form, nil)
	if q.status != http.StatusOK || !strings.Contains(q.body, "Cancel 3 pipelines?") {
		t.Fatalf("the bulk question: %d\n%s", q.status, q.body)
	}
	for _, id := range ids[1:] {
		if !strings.Contains(q.body, `name="id" value="`+id+`"`) {
			t.Errorf("the question does not carry %s", id)
		}
		if cancelled(id) {
			t.Fatal("asking cancelled a pipeline")
		}
	}
	if strings.Contains(q.body, ids[0]) {
		t.Error("the question names a pipeline that was not ticked")
	}
	// ids[1]'s cancel is asked for elsewhere meanwhile: asking again is
	// taken (nothing changes).
	if _, err := w.client.Cancel(context.Background(), ids[1]); err != nil {
		t.Fatal(err)
	}
	form.Set("confirm", "yes")
	done := b.do(http.MethodPost, "/ui/bulk", form, nil)
	loc, _ := url.Parse(done.header.Get("Location"))
	if done.status != http.StatusSeeOther || loc == nil || loc.Path != "/ui/" || loc.Query().Get("state") != "pending" {
		t.Fatalf("the bulk cancel: %d Location %q", done.status, done.header.Get("Location"))
	}
	for _, id := range ids[1:] {
		if !cancelled(id) {
			t.Errorf("%s was not cancelled", id)
		}
	}
	if cancelled(ids[0]) {
		t.Error("a pipeline not ticked was cancelled")
	}
	list := b.get(loc.RequestURI())
	if !strings.Contains(list.body, "Cancel: 3 done.") {
		t.Errorf("the list after the bulk cancel lacks its notice:\n%s", list.body)
	}

	tests := []struct {
		name string
		form url.Values
		want string
	}{
		{"no action", url.Values{"id": {ids[0]}}, "Pick an action"},
		{"unknown action", url.Values{"action": {"delete"}, "id": {ids[0]}}, "Pick an action"},
		{"nothing ticked", url.Values{"action": {"cancel"}}, "No pipeline was selected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.form.Set("csrf", csrf)
			a := b.do(http.MethodPost, "/ui/bulk", tt.form, nil)
			if a.status != http.StatusBadRequest || !strings.Contains(a.body, tt.want) {
				t.Errorf("%d, want 400 saying %q", a.status, tt.want)
			}
		})
	}
	if cancelled(ids[0]) {
		t.Error("a refused bulk form cancelled a pipeline")
	}
	// A notice is made of numbers: text in the URL is never shown.
	if a := b.get("/ui/?notice=bulk&action=cancel&done=%3Cb%3E&skipped=2"); !strings.Contains(a.body, "Cancel: 0 done, 2 left as they were") {
		t.Errorf("a forged notice:\n%s", a.body)
	}
}

package ui

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/mediaflow/mediaflow/tasks"
	"github.com/mediaflow/mediaflow/workspaces"
)

// tokenCMS is a workspaces-file token scoped to acme.
const tokenCMS = "ui-token-cms-acme-00112233"

func scopedWorld(t *testing.T) (w *world, acme, globex *tasks.Record) {
	t.Helper()
	sum := sha256.Sum256([]byte(tokenCMS))
	w = newWorld(t, worldOptions{workspaces: []string{"acme", "globex"},
		fileTokens: []workspaces.Token{{Name: "cms", SHA256: hex.EncodeToString(sum[:]), Workspaces: []string{"acme"}}}})
	acme = w.publishIn(t, "acme", "order-acme", tasks.ActionPublishNow, w.profile)
	globex = w.publishIn(t, "globex", "order-globex", tasks.ActionSchedule, w.profile)
	return w, acme, globex
}

// A session of a token scoped to acme sees acme's pipelines only: globex's
// is "not found" on its page and its actions, which change nothing, and is
// in no list, by id, text or workspace filter.
func TestScopedSessionSeesOnlyItsWorkspaces(t *testing.T) {
	t.Parallel()
	w, acme, globex := scopedWorld(t)
	b := w.browser(t)
	b.mustLogin(tokenCMS)

	if a := b.get(Prefix + "pipelines/" + globex.ID); a.status != http.StatusNotFound || strings.Contains(a.body, "order-globex") {
		t.Errorf("globex's page: %d, want 404 without its content", a.status)
	}
	if a := b.get(Prefix + "pipelines/" + acme.ID); a.status != http.StatusOK || !strings.Contains(a.body, "order-acme") {
		t.Errorf("acme's page: %d", a.status)
	}
	if a := b.get(Prefix + "pipelines/" + globex.ID + "/cancel"); strings.Contains(a.body, "order-globex") {
		t.Error("the cancel question shows globex's pipeline")
	}
	csrf := b.csrf(Prefix)
	for _, action := range []string{"cancel", "redeliver", "replay"} {
		a := b.do(http.MethodPost, Prefix+"pipelines/"+globex.ID+"/"+action, url.Values{"csrf": {csrf}}, nil)
		if a.status != http.StatusNotFound {
			t.Errorf("%s globex's pipeline: %d, want 404", action, a.status)
		}
	}
	b.do(http.MethodPost, Prefix+"bulk", url.Values{"csrf": {csrf}, "action": {"cancel"}, "id": {globex.ID}, "confirm": {"yes"}, "back": {Prefix}}, nil)
	if rec, err := w.client.Get(context.Background(), globex.ID); err != nil || rec.CancelRequested {
		t.Errorf("a scoped session cancelled globex's pipeline: %+v %v", rec, err)
	}

	for _, q := range []string{"", "?q=" + globex.ID, "?q=order", "?workspace=globex", "?state=pending"} {
		a := b.get(Prefix + q)
		if a.status != http.StatusOK || strings.Contains(a.body, `id="p-`+globex.ID) || strings.Contains(a.body, "order-globex") {
			t.Errorf("list%s (%d) shows globex's pipeline", q, a.status)
		}
		if q != "?workspace=globex" && q != "?q="+globex.ID && !strings.Contains(a.body, `id="p-`+acme.ID) {
			t.Errorf("list%s does not show acme's pipeline", q)
		}
	}
	// An all-workspace token sees both, and may filter by workspace.
	all := w.browser(t)
	all.mustLogin(tokenA)
	if a := all.get(Prefix); !strings.Contains(a.body, `id="p-`+globex.ID) || !strings.Contains(a.body, `id="p-`+acme.ID) || !strings.Contains(a.body, `<option value="globex"`) {
		t.Errorf("an all-workspace session's list:\n%s", a.body)
	}
	// A paused workspace is shown with why, to the sessions that see it.
	if _, err := w.client.PauseWorkspace(context.Background(), "globex", "client on hold"); err != nil {
		t.Fatal(err)
	}
	if a := all.get(Prefix); !strings.Contains(a.body, `id="paused-globex"`) || !strings.Contains(a.body, "client on hold") {
		t.Error("the list does not say globex is paused and why")
	}
	if a := b.get(Prefix); strings.Contains(a.body, "paused-globex") {
		t.Error("the scoped session is told of globex's pause")
	}
	if a := all.get(Prefix + "?workspace=globex"); !strings.Contains(a.body, `id="p-`+globex.ID) || strings.Contains(a.body, `id="p-`+acme.ID) {
		t.Error("the workspace filter does not keep globex's pipelines alone")
	}
}

// In a real browser: the scoped session's list shows acme's pipeline and
// not globex's, and an all-workspace session picks globex in the
// workspace filter and sees globex's alone.
func TestBrowserWorkspaceScopeAndFilter(t *testing.T) {
	t.Parallel()
	w, acme, globex := scopedWorld(t)
	c := newChrome(t)
	c.step("log in as cms",
		chromedp.Navigate(w.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tokenCMS),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("p-"+acme.ID)))
	if evalIn[bool](c, `document.getElementById("p-`+globex.ID+`") !== null || document.getElementById("workspace") !== null`) {
		t.Error("the scoped session's list shows globex's pipeline or a choice of workspaces")
	}
	c.step("log out and in with an all-workspace token",
		chromedp.Navigate(w.srv.URL+"/ui/"),
		chromedp.Submit(chromedp.CSS(`form[action="/ui/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tokenA),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.ID("p-"+globex.ID)))
	c.step("filter by globex",
		chromedp.SetValue(chromedp.ID("workspace"), "globex"),
		chromedp.Click(chromedp.ID("filter")),
		chromedp.WaitVisible(chromedp.ID("clear")))
	c.waitJS("the list filtered by globex", `location.search.includes("workspace=globex") && document.getElementById("workspace").value === "globex" && document.getElementById("p-`+globex.ID+`") !== null`)
	if evalIn[bool](c, `document.getElementById("p-`+acme.ID+`") !== null || document.getElementById("p-`+globex.ID+`") === null`) {
		t.Error("the workspace filter does not show globex's pipeline alone")
	}
	if p := c.logged(); len(p) > 0 {
		t.Errorf("console errors: %v", p)
	}
}

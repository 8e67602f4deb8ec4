package ui

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mediaflow/mediaflow/tasks"
)

// chrome is a headless Chromium for one test, with every console error,
// CSP violation and uncaught exception it logs collected.
type chrome struct {
	t        *testing.T
	ctx      context.Context
	shots    string
	mu       sync.Mutex
	problems []string
}

func newChrome(t *testing.T) *chrome {
	t.Helper()
	exe := chromium(t)
	alloc, stopAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))...)
	t.Cleanup(stopAlloc)
	ctx, stop := chromedp.NewContext(alloc)
	t.Cleanup(stop)
	ctx, cancel := context.WithTimeout(ctx, 120*time.Second)
	t.Cleanup(cancel)
	c := &chrome{t: t, ctx: ctx, shots: t.TempDir()}
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	listen, stopListen := context.WithCancel(ctx)
	done := make(chan struct{})
	messages := chromedp.Console(listen)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				c.mu.Lock()
				c.problems = append(c.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				c.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { stopListen(); <-done })
	return c
}

// logged returns what the console collected and forgets it.
func (c *chrome) logged() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.problems
	c.problems = nil
	return p
}

func (c *chrome) step(what string, actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		shot(c.t, c.ctx, c.shots, "failed-"+strings.ReplaceAll(what, " ", "-"))
		c.t.Fatalf("%s: %v", what, err)
	}
}

func (c *chrome) text(sel string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		c.t.Fatalf("read %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func evalIn[T any](c *chrome, js string) T {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// waitJS polls a JavaScript condition in the page until it holds.
func (c *chrome) waitJS(what, cond string) {
	c.t.Helper()
	c.step(what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingInterval(50*time.Millisecond)))
}

// The operator's tools in a real browser, on a real worker whose
// pipelines the sandbox holds at await (media processing) until the test
// moves its clock: the counts per state are shown and filter the list;
// three rows selected are cancelled in one go after a confirmation; a
// failed pipeline is replayed from its page after a confirmation and
// succeeds; and no page logs a CSP violation or any other console error (a violation
// provoked on purpose proves the check sees them).
func TestBrowserOperatorTools(t *testing.T) {
	t.Parallel()
	const hold = 10 * time.Minute
	w := newWorld(t, worldOptions{worker: true, processing: hold, refresh: 300 * time.Millisecond})
	var held []*tasks.Record
	for i := range 5 {
		held = append(held, w.publish(t, fmt.Sprintf("campaign-%02d", i), tasks.ActionPublishNow, w.profile))
	}
	// One whose profile's connection expires once it is past pre-flight
	// (which would refuse it at once): it fails at attach when its media
	// are ready. One scheduled an hour ahead.
	failing := w.publish(t, "campaign-expired", tasks.ActionPublishNow, w.stack.Profiles[2])
	scheduled := w.publish(t, "campaign-later", tasks.ActionSchedule, w.profile)
	for _, r := range append(held, failing, scheduled) {
		waitState(t, w, r.ID, func(r *tasks.Record) bool {
			for _, m := range r.Media {
				if m.Status != tasks.ItemConfirmed {
					return false
				}
			}
			return r.State == tasks.StateRunning
		})
	}
	if err := w.stack.Sandbox.Server.SetProfileStatus(w.stack.Profiles[2], "EXPIRED"); err != nil {
		t.Fatal(err)
	}
	c := newChrome(t)

	c.step("log in",
		chromedp.Navigate(w.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), tokenA),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.pipelines")))

	// Counts per state, each a link that filters the list.
	if got := c.text("#count-running b"); got != "7" {
		t.Errorf("running count %q, want 7", got)
	}
	if got := c.text("#count-failed b"); got != "0" {
		t.Errorf("failed count %q, want 0", got)
	}
	c.step("filter by a count", chromedp.Click(chromedp.ID("count-running")),
		chromedp.WaitVisible(chromedp.CSS(`#count-running[aria-current="page"]`)))
	if !evalIn[bool](c, `location.search === "?state=running" && document.getElementById("f-running").checked`) {
		t.Error("the running count did not filter the list by its state")
	}
	if n := evalIn[int](c, `document.querySelectorAll("tbody.row[data-state=running]").length`); n != 7 {
		t.Errorf("the running list shows %d running rows, want 7", n)
	}
	if n := evalIn[int](c, `document.querySelectorAll("tbody.row:not([data-state=running])").length`); n != 0 {
		t.Errorf("the running list shows %d rows in other states", n)
	}
	if got := c.text("table.pipelines caption"); !strings.HasPrefix(got, "1–7 of 7") {
		t.Errorf("the list's caption says %q, want its range and total", got)
	}
	c.step("filter by text", chromedp.SetValue(chromedp.ID("q"), "campaign-03"), chromedp.Submit(chromedp.ID("q")),
		chromedp.WaitVisible(chromedp.ID("p-"+held[3].ID)))
	if n := evalIn[int](c, `document.querySelectorAll("tbody.row").length`); n != 1 {
		t.Errorf("a text filter shows %d rows, want 1", n)
	}
	c.step("back to the running ones", chromedp.Click(chromedp.ID("count-running")),
		chromedp.WaitVisible(chromedp.ID("p-"+held[0].ID)))

	// Select three rows (a click each, as a person would) and cancel them.
	picked := held[1:4]
	for _, r := range picked {
		c.step("select "+r.Key, chromedp.Click(chromedp.ID("sel-"+r.ID)))
	}
	if got := c.text("#selected-count"); got != "3 selected" {
		t.Errorf("selection says %q", got)
	}
	shot(t, c.ctx, c.shots, "selected")
	c.step("apply cancel to the selection", chromedp.Click(chromedp.ID("bulk-go")), chromedp.WaitVisible(chromedp.ID("confirm")))
	if got := c.text("h1"); got != "Cancel 3 pipelines?" {
		t.Errorf("the confirmation asks %q", got)
	}
	page := c.text("main")
	for _, r := range picked {
		if !strings.Contains(page, r.ID) {
			t.Errorf("the confirmation does not list %s", r.ID)
		}
	}
	for _, r := range []*tasks.Record{held[0], held[4]} {
		if strings.Contains(page, r.ID) {
			t.Errorf("the confirmation lists %s, which was not selected", r.ID)
		}
	}
	for _, r := range held {
		if rec, _ := w.client.Get(context.Background(), r.ID); rec.CancelRequested {
			t.Fatalf("%s was cancelled before the confirmation", r.Key)
		}
	}
	confirmShot := shot(t, c.ctx, c.shots, "bulk-confirm")
	c.step("confirm", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.ID("notice")))
	if got := c.text("#notice"); got != "Cancel: 3 done." {
		t.Errorf("after the bulk cancel the list says %q", got)
	}
	for _, r := range picked {
		waitState(t, w, r.ID, func(r *tasks.Record) bool { return r.State == tasks.StateCancelled })
	}
	for _, r := range []*tasks.Record{held[0], held[4]} {
		if rec, _ := w.client.Get(context.Background(), r.ID); rec.CancelRequested || rec.State != tasks.StateRunning {
			t.Errorf("%s, not selected, is %s (cancel requested %v)", r.Key, rec.State, rec.CancelRequested)
		}
	}
	// The list refreshes itself: the counts follow.
	c.waitJS("see the cancelled counted", `document.querySelector("#count-cancelled b").textContent === "3"`)
	if got := c.text("#count-running b"); got != "4" {
		t.Errorf("running count %q after the cancel, want 4", got)
	}

	// Let the rest finish, and look at a pipeline's timeline.
	if err := w.stack.Sandbox.Server.Advance(hold); err != nil {
		t.Fatal(err)
	}
	waitState(t, w, held[0].ID, func(r *tasks.Record) bool { return r.State == tasks.StateSucceeded })
	waitState(t, w, failing.ID, func(r *tasks.Record) bool { return r.State == tasks.StateFailed })
	waitState(t, w, scheduled.ID, func(r *tasks.Record) bool { return r.PostStage == "SCHEDULED" })
	var final *tasks.Record
	c.step("open a finished pipeline", chromedp.Navigate(w.srv.URL+"/ui/pipelines/"+held[0].ID),
		chromedp.WaitVisible(chromedp.CSS(`#live[data-state="succeeded"]`)))
	if n := evalIn[int](c, `document.querySelectorAll(".timeline .ev-gap").length`); n == 0 {
		t.Error("the timeline shows no durations between its events")
	}
	shot(t, c.ctx, c.shots, "detail")
	// The README's: the window, not the whole page (lighter).
	detailShot, err := chromedp.Run(c.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	c.step("the whole list", chromedp.Navigate(w.srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("table.pipelines")))
	// A failed row shows its whole error, cause included, on its own line.
	final, err = w.client.Get(context.Background(), failing.ID)
	if err != nil || final.Error == nil {
		t.Fatalf("the failing pipeline: %v", err)
	}
	if got := c.text(`tbody[data-id="` + failing.ID + `"] .errline .err`); got != final.Error.Message {
		t.Errorf("the list shows the error %q, want it whole: %q", got, final.Error.Message)
	}
	listShot := shot(t, c.ctx, c.shots, "list")

	// The failed one is replayed from its page, once its profile is
	// reconnected: a confirmation first, then it runs again and succeeds
	// with one post.
	if err := w.stack.Sandbox.Server.SetProfileStatus(w.stack.Profiles[2], "OK"); err != nil {
		t.Fatal(err)
	}
	c.step("open the failed pipeline", chromedp.Navigate(w.srv.URL+"/ui/pipelines/"+failing.ID),
		chromedp.WaitVisible(chromedp.CSS(`#live[data-state="failed"]`)))
	c.step("ask to replay it", chromedp.Click(chromedp.ID("replay")), chromedp.WaitVisible(chromedp.ID("confirm")))
	if got := c.text("h1"); got != "Replay this pipeline?" {
		t.Errorf("the replay's confirmation asks %q", got)
	}
	if rec, _ := w.client.Get(context.Background(), failing.ID); rec.State != tasks.StateFailed || rec.Replays != 0 {
		t.Fatalf("asking replayed the pipeline: %s, %d replays", rec.State, rec.Replays)
	}
	c.step("confirm the replay", chromedp.Click(chromedp.ID("confirm")), chromedp.WaitVisible(chromedp.CSS("p.notice")))
	if got := c.text("p.notice"); !strings.HasPrefix(got, "Replayed") {
		t.Errorf("after the replay the page says %q", got)
	}
	// Its media are uploaded again and held at processing: let them go.
	waitState(t, w, failing.ID, func(r *tasks.Record) bool {
		for _, m := range r.Media {
			if m.Status != tasks.ItemConfirmed {
				return false
			}
		}
		return r.State == tasks.StateRunning
	})
	if err := w.stack.Sandbox.Server.Advance(hold); err != nil {
		t.Fatal(err)
	}
	c.waitJS("see the replayed pipeline succeed", `document.querySelector("#live").dataset.state === "succeeded"`)
	replayed, err := w.client.Get(context.Background(), failing.ID)
	if err != nil || replayed.State != tasks.StateSucceeded || replayed.Replays != 1 || replayed.PostID == "" {
		t.Fatalf("after the replay: %+v, %v", replayed, err)
	}
	posts := map[string]bool{}
	for _, p := range w.stack.Sandbox.Server.AllPosts() {
		for _, m := range p.Post.Medias {
			for _, f := range m.MediaFiles {
				for _, item := range replayed.Media {
					if f.MediaLibID == item.MediaID && !p.Deleted {
						posts[p.Post.ID] = true
					}
				}
			}
		}
	}
	if len(posts) != 1 {
		t.Errorf("the replayed pipeline's media are on %d live posts, want 1", len(posts))
	}

	for _, p := range c.logged() {
		t.Errorf("browser console: %s", p)
	}
	// The check sees a violation: an image from elsewhere is refused and
	// logged.
	c.step("provoke a CSP violation", chromedp.Evaluate[chromedp.Void](
		`document.body.insertAdjacentHTML("beforeend", '<img src="http://127.0.0.2:9/x.png" alt="">')`))
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p := strings.Join(c.logged(), "\n"); strings.Contains(p, "Content Security Policy") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a CSP violation provoked on purpose was not seen: the check proves nothing")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if *update && !t.Failed() {
		writeDocShots(t, map[string][]byte{"ui.png": listShot, "ui-detail.png": detailShot, "ui-bulk-confirm.png": confirmShot})
	}
}

package ui

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/mediaflow/mediaflow/tasks"
)

// update rewrites the README's screenshots (docs/ui*.png) from the
// browser test: go test ./ui -run TestBrowserOperatorTools -update
var update = flag.Bool("update", false, "rewrite docs/ui*.png from the browser test")

// skipBrowserEnv, set to 1, lets the browser test skip where Chromium is
// not installed; without it a missing Chromium fails the suite.
const skipBrowserEnv = "MEDIAFLOW_SKIP_BROWSER"

func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(skipBrowserEnv) == "1" {
		t.Skipf("chromium is not installed and %s=1: the browser test is skipped", skipBrowserEnv)
	}
	t.Fatalf("chromium is not installed (want /usr/bin/chromium): run `make test-deps` (Debian: apt-get install chromium), "+
		"or set %s=1 to skip this test", skipBrowserEnv)
	return ""
}

// The pages in a real browser, on a real worker running pipelines on the
// sandbox: log in, see the list, open a running pipeline and watch it
// reach succeeded without reloading, cancel another and see it cancelled,
// and check the list at 360 px. Any console error, CSP violation included,
// or JavaScript exception fails the test.
func TestBrowser(t *testing.T) {
	t.Parallel()
	exe := chromium(t)
	shots := t.TempDir()
	var listHits atomic.Int64
	var hidden atomic.Bool
	// Every pipeline is held at await (its media processing in the
	// sandbox) until the test advances the sandbox clock: the pipeline it
	// opens is running when the page shows it, however fast the machine.
	// A scheduled post an hour ahead is still ahead after the jump.
	const hold = 10 * time.Minute
	w := newWorld(t, worldOptions{worker: true, processing: hold, refresh: 300 * time.Millisecond,
		wrap: func(next http.Handler) http.Handler {
			return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/ui/" && r.Method == http.MethodGet && hidden.Load() {
					listHits.Add(1)
				}
				next.ServeHTTP(rw, r)
			})
		}})
	watched := w.publish(t, "order-1234", tasks.ActionPublishNow, w.profile)
	toCancel := w.publish(t, "order-1235", tasks.ActionSchedule, w.profile)
	// Pre-flight refuses an expired profile at once: this one's connection
	// expires only once the pipeline is past it (below), so it fails at
	// attach.
	failing := w.publish(t, "order-1236", tasks.ActionPublishNow, w.stack.Profiles[2])
	// Every media confirmed before the clock moves, so that the jump
	// releases them all.
	for _, id := range []string{watched.ID, toCancel.ID, failing.ID} {
		waitState(t, w, id, func(r *tasks.Record) bool {
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

	alloc, stopAlloc := chromedp.NewExecAllocator(context.Background(),
		append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(exe), chromedp.NoSandbox, chromedp.DisableGPU,
			chromedp.WindowSize(1280, 900), chromedp.UserDataDir(t.TempDir()))...)
	defer stopAlloc()
	ctx, stop := chromedp.NewContext(alloc)
	defer stop()
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	defer cancelTimeout()

	// Start the browser, then listen before the first page loads.
	if err := chromedp.Do(ctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var problems []string
	consoleCtx, stopConsole := context.WithCancel(ctx)
	defer stopConsole()
	messages := chromedp.Console(consoleCtx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				mu.Lock()
				problems = append(problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				mu.Unlock()
			}
		}
	}()

	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			shot(t, ctx, shots, "failed-"+strings.ReplaceAll(what, " ", "-"))
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	eval := func(js string) bool {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
		if err != nil {
			t.Fatalf("evaluate %s: %v", js, err)
		}
		return v
	}

	// Log in: the list sends a stranger to the form, then back.
	step("open the list",
		chromedp.Navigate(w.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("token")))
	step("log in",
		chromedp.SendKeys(chromedp.ID("token"), tokenA),
		chromedp.Submit(chromedp.ID("token")),
		chromedp.WaitVisible(chromedp.CSS("table.pipelines")))
	for _, id := range []string{watched.ID, toCancel.ID, failing.ID} {
		step("see "+id+" listed", chromedp.WaitVisible(chromedp.ID("p-"+id)))
	}
	// Open the running pipeline by keyboard-reachable link, and watch it
	// finish: the page updates itself (no navigation: the marker stays).
	step("open the running pipeline",
		chromedp.Click(chromedp.ID("p-"+watched.ID)),
		chromedp.WaitVisible(chromedp.ID("state")))
	if s := text("#state"); s != "running" {
		t.Errorf("opened pipeline is %q, want running", s)
	}
	step("mark the page", chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))
	if err := w.stack.Sandbox.Server.Advance(hold); err != nil {
		t.Fatal(err)
	}
	step("watch it succeed", chromedp.WaitVisible(chromedp.CSS(`#live[data-state="succeeded"]`)))
	if !eval(`window.__noReload === true`) {
		t.Error("the page reloaded instead of refreshing its live part")
	}
	if !eval(`!document.body.hasAttribute("data-refresh")`) {
		t.Error("a finished pipeline's page still refreshes")
	}
	if got := text("#announce"); got != "The pipeline is now succeeded." {
		t.Errorf("live region says %q", got)
	}
	final, err := w.client.Get(context.Background(), watched.ID)
	if err != nil {
		t.Fatal(err)
	}
	body := text("main")
	for _, want := range []string{final.Media[0].MediaID, final.Media[1].MediaID, final.PostID, "PUBLISHED", "ready", "attempt 1", "Cleanup"} {
		if want == "" || !strings.Contains(body, want) {
			t.Errorf("the detail page lacks %q", want)
		}
	}
	for _, secret := range []string{secretInURL, tokenA} {
		if html, _ := chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) {
			t.Errorf("the page shows %q", secret)
		}
	}
	shot(t, ctx, shots, "succeeded")

	step("back to the list",
		chromedp.Click(chromedp.CSS(`nav a[href="/ui/"]`)),
		chromedp.WaitVisible(chromedp.ID("p-"+toCancel.ID)))
	// The failing one has failed meanwhile: the list refreshes
	// and shows its last error.
	step("see the failure in the list",
		chromedp.WaitVisible(chromedp.CSS(`tbody[data-id="`+failing.ID+`"][data-state="failed"] .err`)))

	// Hidden, the tab stops polling; shown again, it polls at once.
	hidden.Store(true)
	step("hide the tab", chromedp.Evaluate[chromedp.Void](
		`Object.defineProperty(document, "hidden", {configurable: true, get: () => true}); document.dispatchEvent(new Event("visibilitychange"))`))
	// A fetch the page sent just before it was hidden may reach the
	// server after the step returned: let it land (one refresh period)
	// before counting.
	time.Sleep(300 * time.Millisecond)
	hits := listHits.Load()
	time.Sleep(1500 * time.Millisecond) // five refresh periods: a browser timer has no clock to inject
	if n := listHits.Load() - hits; n > 0 {
		t.Errorf("the hidden tab fetched the list %d times", n)
	}
	step("show the tab", chromedp.Evaluate[chromedp.Void](
		`Object.defineProperty(document, "hidden", {configurable: true, get: () => false}); document.dispatchEvent(new Event("visibilitychange"))`))
	deadline := time.Now().Add(10 * time.Second)
	for listHits.Load() == hits && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if listHits.Load() == hits {
		t.Error("the tab shown again did not refresh the list")
	}
	hidden.Store(false)

	// Cancel the scheduled one from its page, by keyboard.
	step("open the scheduled pipeline",
		chromedp.Click(chromedp.ID("p-"+toCancel.ID)),
		chromedp.WaitVisible(chromedp.ID("cancel")))
	step("cancel it",
		chromedp.Focus(chromedp.ID("cancel")),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	// The confirmation's button has the focus: Enter confirms.
	step("confirm the cancel",
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(".notice")),
		chromedp.WaitVisible(chromedp.CSS(`#live[data-state="cancelled"]`)))
	if eval(`document.getElementById("cancel") !== null`) {
		t.Error("a cancelled pipeline still offers Cancel")
	}
	shot(t, ctx, shots, "cancelled")

	// Keyboard: the first Tab reaches the skip link, and focus is visible.
	step("tab to the skip link", chromedp.Navigate(w.srv.URL+"/ui/"), chromedp.WaitVisible(chromedp.CSS("table.pipelines")),
		chromedp.KeyEvent("\t"))
	if !eval(`document.activeElement.classList.contains("skip") && getComputedStyle(document.activeElement).outlineStyle !== "none"`) {
		t.Error("the first Tab does not land on a visibly focused skip link")
	}

	// 360 px: nothing wider than the screen.
	step("narrow screen", chromedp.EmulateViewport(360, 800), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.pipelines")))
	if !eval(`document.documentElement.scrollWidth <= 360`) {
		width, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		t.Errorf("at 360 px the list is %d px wide", width)
	}
	shot(t, ctx, shots, "list-360")
	step("wide screen", chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("table.pipelines")))
	shot(t, ctx, shots, "list")

	stopConsole()
	<-done
	mu.Lock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
	mu.Unlock()
}

// shot saves a full-page PNG under the test's temp dir and returns it.
func shot(t *testing.T, ctx context.Context, dir, name string) []byte {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s: %v", name, err)
		return nil
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return png
}

func waitState(t *testing.T, w *world, id string, done func(*tasks.Record) bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := w.client.Get(context.Background(), id)
		if err != nil && !errors.Is(err, tasks.ErrNotFound) {
			t.Fatal(err)
		}
		if rec != nil && done(rec) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pipeline %s: not there after 30s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

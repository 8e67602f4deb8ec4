package swonkie_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// target is what the calls of callsOn act on.
type target struct {
	media, post, profile, uploadURL string
}

// callsOn lists every client method, each made on c with ctx. The upload
// streams a body that never ends, so only ctx can stop it.
func callsOn(c *swonkie.Client, tg target) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"CreateMedia": func(ctx context.Context) error {
			_, err := c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png"})
			return err
		},
		"UploadMedia": func(ctx context.Context) error {
			pr, pw := io.Pipe()
			defer pw.Close()
			return c.UploadMedia(ctx, tg.uploadURL, pr, 1<<20, "image/png")
		},
		"ConfirmMedia": func(ctx context.Context) error { _, err := c.ConfirmMedia(ctx, tg.media); return err },
		"GetMedia":     func(ctx context.Context) error { _, err := c.GetMedia(ctx, tg.media); return err },
		"DeleteMedia":  func(ctx context.Context) error { return c.DeleteMedia(ctx, tg.media) },
		"CreatePost": func(ctx context.Context) error {
			_, err := c.CreatePost(ctx, mediaPost(tg.profile, "c", tg.media))
			return err
		},
		"GetPost": func(ctx context.Context) error { _, err := c.GetPost(ctx, tg.post); return err },
		"UpdatePost": func(ctx context.Context) error {
			_, err := c.UpdatePost(ctx, tg.post, swonkie.PostInput{Briefing: &swonkie.Briefing{Markdown: "u"}})
			return err
		},
		"ValidatePost": func(ctx context.Context) error { _, err := c.ValidatePost(ctx, tg.post); return err },
		"ChangeStage": func(ctx context.Context) error {
			_, err := c.ChangeStage(ctx, tg.post, swonkie.ActionTeamReview)
			return err
		},
		"DeletePost":   func(ctx context.Context) error { return c.DeletePost(ctx, tg.post) },
		"ListPosts":    func(ctx context.Context) error { _, err := c.ListPosts(ctx, swonkie.ListPostsParams{}); return err },
		"ListProfiles": func(ctx context.Context) error { _, err := c.ListProfiles(ctx); return err },
		"ListLabels":   func(ctx context.Context) error { _, err := c.ListLabels(ctx); return err },
		"CreateLabel":  func(ctx context.Context) error { _, err := c.CreateLabel(ctx, "l"); return err },
	}
}

func TestEveryCallHonoursItsContext(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{})
	bg := context.Background()
	fb := f.okProfile("facebook")
	tg := target{media: f.readyMedia(t), profile: fb.ID}
	fresh, err := f.c.CreateMedia(bg, swonkie.CreateMediaRequest{Name: "x.png"})
	if err != nil {
		t.Fatal(err)
	}
	tg.uploadURL = fresh.UploadURL
	post, err := f.c.CreatePost(bg, mediaPost(fb.ID, "ctx", tg.media))
	if err != nil {
		t.Fatal(err)
	}
	tg.post = post.ID
	calls := callsOn(f.c, tg)
	if len(calls) != 15 {
		t.Fatalf("%d client methods under test, want 15", len(calls))
	}

	t.Run("cancelled before the call", func(t *testing.T) {
		before := f.r.Server.Stats()
		ctx, cancel := context.WithCancel(bg)
		cancel()
		for name, call := range calls {
			if err := call(ctx); !errors.Is(err, context.Canceled) || !swonkie.IsTransient(err) {
				t.Errorf("%s with a cancelled context: %v", name, err)
			}
		}
		after := f.r.Server.Stats()
		if after.Media.Created != before.Media.Created || after.Posts.Created != before.Posts.Created ||
			after.Media.Deleted != before.Media.Deleted || after.Media.Uploads != before.Media.Uploads {
			t.Error("calls with a cancelled context changed the sandbox")
		}
	})

	t.Run("deadline during the call", func(t *testing.T) {
		// Every API call takes seconds on this sandbox; the upload stalls
		// on its body instead.
		slow := newFixture(t, sandbox.Options{Latency: 3 * time.Second})
		slowCalls := callsOn(slow.c, tg)
		slowCalls["UploadMedia"] = calls["UploadMedia"]
		var wg sync.WaitGroup
		for name, call := range slowCalls {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
				defer cancel()
				done := make(chan error, 1)
				start := time.Now()
				go func() { done <- call(ctx) }()
				select {
				case err := <-done:
					if took := time.Since(start); took > 2*time.Second {
						t.Errorf("%s took %s with a 100ms deadline", name, took)
					}
					if !errors.Is(err, context.DeadlineExceeded) || !swonkie.IsTransient(err) {
						t.Errorf("%s past its deadline: %v", name, err)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("%s still running 5s after its 100ms deadline", name)
				}
			})
		}
		wg.Wait()
	})
}

func TestRateLimiter(t *testing.T) {
	t.Parallel()
	f := newFixture(t, sandbox.Options{}, func(c *swonkie.Config) { c.RateLimit, c.Burst = 20, 1 })
	ctx := context.Background()
	start := time.Now()
	for range 6 {
		if _, err := f.c.ListProfiles(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took < 240*time.Millisecond {
		t.Fatalf("6 calls at 20/s with burst 1 took %s, want ≥ 250ms", took)
	}

	// One limiter shared by two clients paces them together.
	shared := rate.NewLimiter(20, 1)
	a := newClient(t, f.r.BaseURL, func(c *swonkie.Config) { c.Limiter = shared })
	b := newClient(t, f.r.BaseURL, func(c *swonkie.Config) { c.Limiter = shared })
	start = time.Now()
	var wg sync.WaitGroup
	for _, c := range []*swonkie.Client{a, b} {
		wg.Go(func() {
			for range 3 {
				if _, err := c.ListLabels(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if took := time.Since(start); took < 240*time.Millisecond {
		t.Fatalf("two clients sharing a 20/s limiter made 6 calls in %s", took)
	}

	// Uploads go to storage and are not paced.
	slow := newFixture(t, sandbox.Options{}, func(c *swonkie.Config) { c.RateLimit, c.Burst = 0.2, 1 })
	m, err := slow.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png"})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	for range 5 {
		if err := slow.c.UploadMedia(ctx, m.UploadURL, strings.NewReader("abc"), 3, ""); err != nil {
			t.Fatal(err)
		}
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("5 uploads took %s under a 1 per 5s API limit", took)
	}
	// Waiting for the limiter honours the context: the create above used
	// the only token for five seconds.
	ctx2, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = slow.c.ListLabels(ctx2)
	if err == nil || !swonkie.IsTransient(err) || time.Since(start) > 2*time.Second {
		t.Fatalf("limited call with a 50ms deadline: %v after %s", err, time.Since(start))
	}
	if n := slow.r.Server.Stats().Requests["GET /labels"]; len(n) != 0 {
		t.Fatalf("the limited call reached the server: %v", n)
	}
}

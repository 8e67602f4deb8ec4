package tasks_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"

	"github.com/mediaflow/mediaflow/source"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
	"github.com/mediaflow/mediaflow/tasks"
)

// The whole lifecycle from Go: a worker, the Swonkie sandbox standing in for
// the real API, and a publish request followed to its end.
func Example() {
	ctx := context.Background()
	rc := exampleClient()
	defer rc.Close()

	sb, _ := sandbox.New(sandbox.Options{APIID: "app-id", APIKey: "api-key"})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	api, _ := swonkie.New(swonkie.Config{BaseURL: srv.URL + "/v2", APIID: "app-id", APIKey: "api-key", MaxConns: 4})

	root, _ := os.MkdirTemp("", "mediaflow-example-")
	defer os.RemoveAll(root)
	_ = writePNG(filepath.Join(root, "hello.png"))
	sources, _ := source.New(source.Config{Root: root})

	worker, _ := tasks.NewWorker(tasks.WorkerConfig{
		Redis: rc, API: api, Sources: sources, Logger: zerolog.Nop(), SweepSchedule: "off",
	})
	_ = worker.Start()
	defer worker.Shutdown()

	client := tasks.NewClient(rc, tasks.WithSources(sources))
	defer client.Close()
	profiles, _ := api.ListProfiles(ctx)
	rec, _, err := client.Publish(ctx, tasks.Request{
		Media:  []tasks.MediaSource{{Source: "hello.png"}},
		Post:   &tasks.PostSpec{ProfileIDs: []string{profiles[0].ID}, Caption: "Hello from mediaflow"},
		Action: tasks.ActionPublishNow,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec, _ = client.Wait(ctx, rec.ID, 100*time.Millisecond, nil)
	fmt.Println(rec.State, rec.Step, rec.PostStage, rec.Cleanup)
	// Output: succeeded done PUBLISHED done
}

// An idempotency key makes a retried request harmless: the same key always
// answers the same pipeline, and a different request under it is refused.
func ExampleClient_Publish() {
	ctx := context.Background()
	rc := exampleClient()
	defer rc.Close()
	client := tasks.NewClient(rc)
	defer client.Close()

	req := tasks.Request{
		Key:    "order-1234",
		Media:  []tasks.MediaSource{{Source: "https://cdn.example.com/summer.jpg"}},
		Post:   &tasks.PostSpec{ProfileIDs: []string{"UHJvZmlsZUlk"}, Caption: "Summer is here"},
		Action: tasks.ActionPublishNow,
	}
	first, created, _ := client.Publish(ctx, req)
	fmt.Println(first.State, created)
	again, created, _ := client.Publish(ctx, req)
	fmt.Println(again.ID == first.ID, created)

	req.Post.Caption = "Autumn is here"
	_, _, err := client.Publish(ctx, req)
	fmt.Println(err != nil)
	// Output:
	// pending true
	// true false
	// true
}

// Bad requests are refused with every problem named, before anything is
// queued.
func ExampleValidationError() {
	rc := exampleClient()
	defer rc.Close()
	client := tasks.NewClient(rc)
	defer client.Close()

	_, _, err := client.Publish(context.Background(), tasks.Request{
		Media:  []tasks.MediaSource{{Source: "a.jpg"}},
		Post:   &tasks.PostSpec{Caption: "no profile"},
		Action: tasks.ActionSchedule,
	})
	if ve, ok := err.(*tasks.ValidationError); ok {
		for _, p := range ve.Problems {
			fmt.Printf("%s: %s\n", p.Field, p.Message)
		}
	}
	// Output:
	// post.profileIds: at least one profile id is required
	// post.publishAt: required to schedule
}

// writePNG writes a small picture to publish (only the standard library,
// so this example compiles in any module).
func writePNG(path string) error {
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for x := range 16 {
		img.Set(x, x, color.RGBA{R: 200, A: 255})
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return png.Encode(f, img)
}

// exampleClient is a client of the redis-server the examples run against;
// each example starts from an empty database.
func exampleClient() *redis.Client {
	rc := redis.NewClient(&redis.Options{Addr: exampleRedisAddr()})
	_ = rc.FlushDB(context.Background()).Err()
	return rc
}

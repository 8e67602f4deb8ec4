package swonkie_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log"
	"net/http/httptest"
	"time"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// The whole media lifecycle: create, upload, confirm, wait for SUCCESS,
// attach to a post, publish, clean up. A sandbox stands in for
// api.swonkie.dev.
func Example() {
	sb, err := sandbox.New(sandbox.Options{APIID: "app-id", APIKey: "api-key", PublishDelay: 50 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	defer srv.Close()

	c, err := swonkie.New(swonkie.Config{BaseURL: srv.URL + "/v2", APIID: "app-id", APIKey: "api-key"})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	var file bytes.Buffer
	_ = png.Encode(&file, image.NewGray(image.Rect(0, 0, 64, 48)))

	m, err := c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "photo.png", Width: 64, Height: 48, FileSize: int64(file.Len())})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.UploadMedia(ctx, m.UploadURL, &file, int64(file.Len()), "image/png"); err != nil {
		log.Fatal(err)
	}
	if _, err := c.ConfirmMedia(ctx, m.MediaID); err != nil {
		log.Fatal(err)
	}
	media, err := c.GetMedia(ctx, m.MediaID)
	for err == nil && !media.Status.Ready() && !media.Status.Failed() {
		time.Sleep(10 * time.Millisecond)
		media, err = c.GetMedia(ctx, m.MediaID)
	}
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("media:", media.Status, media.Type, media.Specs.Width, "x", media.Specs.Height)

	profiles, err := c.ListProfiles(ctx)
	if err != nil {
		log.Fatal(err)
	}
	post, err := c.CreatePost(ctx, swonkie.PostInput{
		Type:       swonkie.PostMedia,
		ProfileIDs: []string{profiles[0].ID},
		Captions:   []swonkie.Caption{{PlainText: "Hello from mediaflow"}},
		Medias:     []swonkie.MediaGroup{{MediaFiles: []swonkie.MediaFile{{MediaLibID: m.MediaID}}}},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("post:", post.Stage)
	if _, err := c.ChangeStage(ctx, post.ID, swonkie.ActionPublishNow); err != nil {
		log.Fatal(err)
	}
	for !post.PublishedEverywhere() {
		time.Sleep(10 * time.Millisecond)
		if post, err = c.GetPost(ctx, post.ID); err != nil {
			log.Fatal(err)
		}
		if _, failed := post.PublishFailed(); failed {
			log.Fatal("publication failed")
		}
	}
	fmt.Println("post:", post.Stage, "on", post.Profiles[0].Net.Code)

	// Cleanup may run twice: a media that is already gone counts as
	// deleted.
	fmt.Println("cleanup:", c.DeleteMedia(ctx, m.MediaID), c.DeleteMedia(ctx, m.MediaID))

	_, err = c.GetMedia(ctx, m.MediaID)
	fmt.Println("not found:", swonkie.IsNotFound(err), "retry:", swonkie.IsTransient(err))
	fmt.Println(err)
	// Output:
	// media: SUCCESS image/png 64 x 48
	// post: IDEA
	// post: PUBLISHED on facebook
	// cleanup: <nil> <nil>
	// not found: true retry: false
	// swonkie GET /media/{id}: 404 Not Found: media not found in this workspace
}

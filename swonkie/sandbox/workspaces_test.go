package sandbox_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// Two workspaces on one address keep their own media and calls, and a
// revoked key is refused with 401 while the other workspace goes on.
func TestWorkspacesKeepTheirOwnState(t *testing.T) {
	t.Parallel()
	ws, err := sandbox.NewWorkspaces(
		sandbox.Options{APIID: "id-a", APIKey: "key-a", Seed: 1},
		sandbox.Options{APIID: "id-b", APIKey: "key-b", Seed: 1},
	)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(ws)
	defer srv.Close()
	client := func(id, key string) *swonkie.Client {
		c, err := swonkie.New(swonkie.Config{BaseURL: srv.URL + "/v2", APIID: id, APIKey: key, AllowedUploadHosts: []string{"127.0.0.1"}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := client("id-a", "key-a"), client("id-b", "key-b")
	ctx := context.Background()
	png := testmedia.PNG(64, 64, 1)

	created, err := a.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "a.png", FileSize: int64(len(png))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Upload(ctx, created, bytes.NewReader(png), int64(len(png)), "image/png"); err != nil {
		t.Fatalf("upload through the shared address: %v", err)
	}
	if _, err := a.GetMedia(ctx, created.MediaID); err != nil {
		t.Fatalf("A reads its media: %v", err)
	}
	if _, err := b.GetMedia(ctx, created.MediaID); !swonkie.IsNotFound(err) {
		t.Fatalf("B reads A's media: %v, want 404", err)
	}
	if _, err := client("id-b", "key-a").ListProfiles(ctx); swonkie.StatusCode(err) != 401 {
		t.Fatalf("B's id with A's key: %v, want 401", err)
	}
	if got := ws.Server("id-a").Stats().Media.Created; got != 1 {
		t.Errorf("A created %d media, want 1", got)
	}
	if got := ws.Server("id-b").Stats().Media.Created; got != 0 {
		t.Errorf("B created %d media, want 0", got)
	}

	ws.Server("id-b").SetAPIKey("key-b2")
	if _, err := b.ListProfiles(ctx); swonkie.StatusCode(err) != 401 {
		t.Fatalf("B's revoked key: %v, want 401", err)
	}
	if _, err := client("id-b", "key-b2").ListProfiles(ctx); err != nil {
		t.Fatalf("B's new key: %v", err)
	}
	if _, err := a.ListProfiles(ctx); err != nil {
		t.Fatalf("A after B's key changed: %v", err)
	}
}

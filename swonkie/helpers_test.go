package swonkie_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"golang.org/x/time/rate"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// Distinctive credentials: redaction tests look for them in every error.
const (
	apiID  = "app-5e1f0c7d-idNEVERSHOW"
	apiKey = "sk_live_9f3a77c2b1-keyNEVERSHOW"
)

// fixture is a sandbox and a client for it.
type fixture struct {
	r *sandbox.Running
	c *swonkie.Client
}

func newFixture(t testing.TB, opts sandbox.Options, cfg ...func(*swonkie.Config)) *fixture {
	t.Helper()
	opts.APIID, opts.APIKey = apiID, apiKey
	r := sandbox.Start(t, opts)
	return &fixture{r: r, c: newClient(t, r.BaseURL, cfg...)}
}

func newClient(t testing.TB, base string, cfg ...func(*swonkie.Config)) *swonkie.Client {
	t.Helper()
	c := swonkie.Config{BaseURL: base, APIID: apiID, APIKey: apiKey, RateLimit: rate.Inf, Timeout: 10 * time.Second}
	for _, f := range cfg {
		f(&c)
	}
	client, err := swonkie.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return client
}

// readyMedia runs create, upload and confirm and returns the id of a
// SUCCESS media (the fixture's sandbox has no processing delay).
func (f *fixture) readyMedia(t testing.TB) string {
	t.Helper()
	ctx := context.Background()
	data := testmedia.PNG(4, 4, 0)
	m, err := f.c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "p.png", FileSize: int64(len(data)), Width: 4, Height: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.c.UploadMedia(ctx, m.UploadURL, bytes.NewReader(data), int64(len(data)), "image/png"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.c.ConfirmMedia(ctx, m.MediaID); err != nil {
		t.Fatal(err)
	}
	return m.MediaID
}

// okProfile returns a healthy profile of the sandbox.
func (f *fixture) okProfile(net string) swonkie.Profile {
	for _, p := range f.r.Server.Profiles() {
		if p.StatusLevel == swonkie.StatusOK && p.Net.Code == net {
			return p
		}
	}
	panic("no OK " + net + " profile")
}

func mediaPost(profile, caption string, mediaIDs ...string) swonkie.PostInput {
	var files []swonkie.MediaFile
	for _, id := range mediaIDs {
		files = append(files, swonkie.MediaFile{MediaLibID: id})
	}
	return swonkie.PostInput{
		Type:       swonkie.PostMedia,
		ProfileIDs: []string{profile},
		Captions:   []swonkie.Caption{{PlainText: caption}},
		Medias:     []swonkie.MediaGroup{{MediaFiles: files}},
	}
}

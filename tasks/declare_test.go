package tasks

import (
	"path/filepath"
	"testing"

	"github.com/mediaflow/mediaflow/internal/ffmpegtest"
)

// A real 10 s 1080×1920 H.264 file from ffmpeg publishes as a Reel, and
// the sandbox saw, on POST /media, the width, height, duration and size
// of the file (swonkie-api.md §3.2). The sandbox's strict default
// refuses a confirm whose declared values disagree with the upload, so a
// wrong declaration would fail the pipeline too. With pre-flight on the
// values come from its probe; with it off, from the upload's own.
func TestCreateMediaDeclaresWhatTheFileIs(t *testing.T) {
	t.Parallel()
	if err := ffmpegtest.Require(); err != nil {
		t.Fatal(err)
	}
	for _, preflight := range []bool{true, false} {
		t.Run(map[bool]string{true: "pre-flight on", false: "pre-flight off"}[preflight], func(t *testing.T) {
			t.Parallel()
			opt := func(c *setupConfig) { c.preflight = preflight }
			declaresWhatTheFileIs(t, setup(t, opt), preflight)
		})
	}
}

func declaresWhatTheFileIs(t *testing.T, b *bundle, preflight bool) {
	if err := ffmpegtest.MakeVideo(filepath.Join(b.root, "reel.mp4"), ffmpegtest.Video{Width: 1080, Height: 1920, Seconds: 10}); err != nil {
		t.Fatal(err)
	}
	probe, err := ffmpegtest.FFprobe(filepath.Join(b.root, "reel.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	req := b.request(ActionPublishNow, "reel.mp4")
	req.Post.Type = TypeReel
	req.Post.ProfileIDs = b.profiles[1:2] // instagram
	rec := b.wait(b.publish(req).ID)
	if rec.State != StateSucceeded {
		t.Fatalf("the 10 s Reel did not publish: %s", dump(rec))
	}
	if got := rec.Preflight != nil; got != preflight {
		t.Errorf("pre-flight ran: %v, want %v", got, preflight)
	}
	m, ok := b.sb.Server.Media(rec.Media[0].MediaID)
	if !ok {
		t.Fatalf("the sandbox has no media %s", rec.Media[0].MediaID)
	}
	d := m.Declared
	switch {
	case d.Width == nil || *d.Width != 1080, d.Height == nil || *d.Height != 1920:
		t.Errorf("declared size %v×%v, want 1080×1920", deref(d.Width), deref(d.Height))
	case d.Duration == nil || *d.Duration < probe.Duration-0.1 || *d.Duration > probe.Duration+0.1:
		t.Errorf("declared duration %v, ffprobe says %vs", deref(d.Duration), probe.Duration)
	case d.FileSize == nil || *d.FileSize != m.Bytes:
		t.Errorf("declared fileSize %v, uploaded %d bytes", deref(d.FileSize), m.Bytes)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return "(not declared)"
	}
	return *p
}

package sandbox_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"
	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

// The width, height, duration and fileSize declared on POST /media must
// agree with the file (swonkie-api.md §3.2); by default a confirm that
// would disagree is refused, naming each field, and only declared values
// are checked. Width and height are the displayed size.
func TestDeclaredSpecs(t *testing.T) {
	t.Parallel()
	png := testmedia.PNG(8, 6, 0)
	tests := []struct {
		name     string
		file     func(t *testing.T) []byte
		declared map[string]any
		fields   []string // refused, naming these; none: accepted
		specs    swonkie.MediaSpecs
	}{
		{"nothing declared", func(*testing.T) []byte { return png }, nil, nil, swonkie.MediaSpecs{Width: 8, Height: 6}},
		{"image, all right", func(*testing.T) []byte { return png }, map[string]any{"width": 8, "height": 6, "fileSize": len(png)}, nil,
			swonkie.MediaSpecs{Width: 8, Height: 6}},
		{"image, size off by one", func(*testing.T) []byte { return png }, map[string]any{"fileSize": len(png) + 1}, []string{"fileSize"}, swonkie.MediaSpecs{}},
		{"image with a duration", func(*testing.T) []byte { return png }, map[string]any{"duration": 3}, []string{"duration"}, swonkie.MediaSpecs{}},
		{"video, all right", func(t *testing.T) []byte { return mediaBytes(t, "clip.mp4") },
			map[string]any{"width": 1080, "height": 1920, "duration": 2}, nil, swonkie.MediaSpecs{Width: 1080, Height: 1920, Duration: ptr(2.0)}},
		{"video, duration rounded within a tenth", func(t *testing.T) []byte { return mediaBytes(t, "clip.mp4") },
			map[string]any{"duration": 2.04}, nil, swonkie.MediaSpecs{Width: 1080, Height: 1920, Duration: ptr(2.0)}},
		{"video, wrong duration and height", func(t *testing.T) []byte { return mediaBytes(t, "clip.mp4") },
			map[string]any{"width": 1080, "height": 1080, "duration": 10}, []string{"duration", "height"}, swonkie.MediaSpecs{}},
		{"rotated video, displayed size", func(t *testing.T) []byte { return mediaBytes(t, "rotated.mp4") },
			map[string]any{"width": 360, "height": 640, "duration": 1}, nil, swonkie.MediaSpecs{Width: 360, Height: 640, Duration: ptr(1.0)}},
		{"rotated video, stored size", func(t *testing.T) []byte { return mediaBytes(t, "rotated.mp4") },
			map[string]any{"width": 640, "height": 360}, []string{"height", "width"}, swonkie.MediaSpecs{}},
		{"EXIF-turned photo, displayed size", func(t *testing.T) []byte { return mediaBytes(t, "turned.jpg") },
			map[string]any{"width": 480, "height": 640}, nil, swonkie.MediaSpecs{Width: 480, Height: 640}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := tt.file(t)
			e := start(t, sandbox.Options{})
			body := map[string]any{"name": "f", "destinationType": "POST_MEDIA"}
			for k, v := range tt.declared {
				body[k] = v
			}
			c := e.createMedia(body)
			expect(t, e.upload(c.UploadURL, data, nil), http.StatusCreated)
			r := e.confirm(c.MediaID)
			if len(tt.fields) > 0 {
				expect(t, r, http.StatusBadRequest)
				b := r.errorBody(t)
				if len(b.Errors) != len(tt.fields) {
					t.Fatalf("problems %+v, want one for each of %v", b.Errors, tt.fields)
				}
				for _, f := range tt.fields {
					if !b.hasProblem(f, "disagrees") && !b.hasProblem(f, "image") {
						t.Errorf("no problem for %s in %s", f, r.body)
					}
				}
				// Not confirmed: the media waits, as if never confirmed.
				if st := e.mediaStatus(c.MediaID); st != swonkie.MediaUploading {
					t.Errorf("refused media is %s", st)
				}
				return
			}
			expect(t, r, http.StatusOK)
			var m swonkie.Media
			g := e.get("/v2/media/" + esc(c.MediaID))
			expect(t, g, http.StatusOK)
			g.decode(t, &m)
			got := m.Specs
			if m.Status != swonkie.MediaSuccess || got.Width != tt.specs.Width || got.Height != tt.specs.Height ||
				(got.Duration == nil) != (tt.specs.Duration == nil) || (got.Duration != nil && *got.Duration != *tt.specs.Duration) {
				t.Errorf("media %s specs %+v (duration %v), want %+v", m.Status, got, deref(got.Duration), tt.specs)
			}
			// Introspection shows what was declared next to what the file is.
			info, _ := e.s.Media(c.MediaID)
			if info.Probe == nil || info.Bytes != int64(len(data)) {
				t.Errorf("introspection %+v", info)
			}
			if w, ok := tt.declared["width"]; ok && (info.Declared.Width == nil || *info.Declared.Width != int64(w.(int))) {
				t.Errorf("declared width %v not kept: %+v", w, info.Declared)
			}
		})
	}
}

// In the other mode the disagreement surfaces as a processing ERROR.
func TestDeclaredMismatchFailsProcessing(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{DeclaredMismatch: sandbox.MismatchFailsProcessing})
	c := e.createMedia(map[string]any{"name": "clip.mp4", "destinationType": "POST_MEDIA", "duration": 9})
	expect(t, e.upload(c.UploadURL, mediaBytes(t, "clip.mp4"), nil), http.StatusCreated)
	expect(t, e.confirm(c.MediaID), http.StatusOK)
	if st := e.mediaStatus(c.MediaID); st != swonkie.MediaError {
		t.Fatalf("status %s, want ERROR", st)
	}
	if info, _ := e.s.Media(c.MediaID); !strings.Contains(info.ErrorReason, "declared duration 9s disagrees with the file's 2s") {
		t.Fatalf("reason %q", info.ErrorReason)
	}
	if _, err := sandbox.New(sandbox.Options{APIID: "a", APIKey: "b", DeclaredMismatch: "later"}); err == nil {
		t.Error("an unknown DeclaredMismatch was accepted")
	}
}

// The typed client's width, height and duration reach the sandbox as
// declared.
func TestClientDeclaresSpecs(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	c, err := swonkie.New(swonkie.Config{BaseURL: e.r.BaseURL, APIID: testID, APIKey: testKey})
	if err != nil {
		t.Fatal(err)
	}
	data := mediaBytes(t, "clip.mp4")
	ctx := context.Background()
	m, err := c.CreateMedia(ctx, swonkie.CreateMediaRequest{Name: "clip.mp4", Width: 1080, Height: 1920, Duration: 2, FileSize: int64(len(data))})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Upload(ctx, m, strings.NewReader(string(data)), int64(len(data)), "video/mp4"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ConfirmMedia(ctx, m.MediaID); err != nil {
		t.Fatal(err)
	}
	info, _ := e.s.Media(m.MediaID)
	d := info.Declared
	if d.Width == nil || *d.Width != 1080 || d.Height == nil || *d.Height != 1920 || d.Duration == nil || *d.Duration != 2 ||
		d.FileSize == nil || *d.FileSize != int64(len(data)) || info.State != string(swonkie.MediaSuccess) {
		t.Fatalf("sandbox saw %+v", info)
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

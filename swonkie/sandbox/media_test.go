package sandbox_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mediaflow/mediaflow/internal/testmedia"

	"github.com/mediaflow/mediaflow/swonkie"
	"github.com/mediaflow/mediaflow/swonkie/sandbox"
)

func TestCreateMediaRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	ok := func(extra map[string]any) map[string]any {
		b := map[string]any{"name": "photo.png", "destinationType": "POST_MEDIA"}
		for k, v := range extra {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	tests := []struct {
		name  string
		body  map[string]any
		field string // empty: accepted
	}{
		{"minimal", ok(nil), ""},
		{"with every hint", ok(map[string]any{"width": 1080, "height": 1350, "duration": 12.5, "fileSize": 2048}), ""},
		{"name missing", ok(map[string]any{"name": nil}), "name"},
		{"name empty", ok(map[string]any{"name": ""}), "name"},
		{"name blank", ok(map[string]any{"name": "   "}), "name"},
		{"name 255", ok(map[string]any{"name": strings.Repeat("n", 255)}), ""},
		{"name 256", ok(map[string]any{"name": strings.Repeat("n", 256)}), "name"},
		{"destinationType missing", ok(map[string]any{"destinationType": nil}), "destinationType"},
		{"destinationType other", ok(map[string]any{"destinationType": "PROFILE_PICTURE"}), "destinationType"},
		{"width zero", ok(map[string]any{"width": 0}), "width"},
		{"height negative", ok(map[string]any{"height": -1}), "height"},
		{"fileSize zero", ok(map[string]any{"fileSize": 0}), "fileSize"},
		{"duration negative", ok(map[string]any{"duration": -0.5}), "duration"},
		{"width fractional", ok(map[string]any{"width": 10.5}), "width"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := e.do(req{method: http.MethodPost, path: "/v2/media", body: tt.body})
			if tt.field == "" {
				expect(t, r, http.StatusCreated)
				var c created
				r.decode(t, &c)
				if c.MediaID == "" || c.ID != "" || c.MediaLibID != "" {
					t.Fatalf("want the id in mediaId only: %s", r.body)
				}
				if !strings.Contains(c.UploadURL, "/blob/") || !strings.Contains(c.UploadURL, "sig=") || !strings.Contains(c.UploadURL, "se=") {
					t.Fatalf("uploadUrl %q is not a signed blob URL", c.UploadURL)
				}
				return
			}
			expect(t, r, http.StatusBadRequest)
			if b := r.errorBody(t); !b.hasProblem(tt.field, "") {
				t.Fatalf("no problem names %s: %s", tt.field, r.body)
			}
		})
	}
}

func TestMediaLifecycleTiming(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{ProcessingDelay: time.Hour})
	png := testmedia.PNG(4, 3, 0)
	c := e.createMedia(map[string]any{"name": "p.png", "destinationType": "POST_MEDIA", "width": 4, "height": 3, "fileSize": len(png)})
	if st := e.mediaStatus(c.MediaID); st != swonkie.MediaUploading {
		t.Fatalf("new media is %s, want UPLOADING", st)
	}
	expect(t, e.upload(c.UploadURL, png, nil), http.StatusCreated)
	if st := e.mediaStatus(c.MediaID); st != swonkie.MediaUploading {
		t.Fatalf("uploaded, unconfirmed media is %s, want UPLOADING", st)
	}
	r := e.confirm(c.MediaID)
	expect(t, r, http.StatusOK)
	if r.String() != `{}` {
		t.Fatalf("confirm answered %s, want {} (its body is not documented)", r.body)
	}
	e.advance(59 * time.Minute)
	if st := e.mediaStatus(c.MediaID); st != swonkie.MediaProcessing {
		t.Fatalf("media is %s 59m into a 1h processing, want PROCESSING", st)
	}
	e.advance(2 * time.Minute)
	r = e.get("/v2/media/" + esc(c.MediaID))
	expect(t, r, http.StatusOK)
	var m swonkie.Media
	r.decode(t, &m)
	if m.Status != swonkie.MediaSuccess {
		t.Fatalf("media is %s after processing, want SUCCESS", m.Status)
	}
	if m.Name != "p.png" || m.Type != "image/png" || m.Specs.Width != 4 || m.Specs.Height != 3 ||
		m.Specs.FileSizeBytes != int64(len(png)) || m.Specs.Duration != nil || m.CreatedAt == nil {
		t.Fatalf("GET /media after SUCCESS: %s", r.body)
	}
	if !strings.Contains(m.Path, "sig=") || !strings.Contains(m.Preview, "sig=") {
		t.Fatalf("path and preview are not signed URLs: %s", r.body)
	}
	for _, u := range []string{m.Path, m.Preview} {
		expect(t, e.do(req{method: http.MethodGet, path: u, noAuth: true}), http.StatusOK)
	}
	expect(t, e.do(req{method: http.MethodGet, path: strings.Replace(m.Path, "sig=", "sig=0", 1), noAuth: true}), http.StatusForbidden)
	// The read URL cannot be used to write.
	expect(t, e.upload(m.Path, png, nil), http.StatusForbidden)
}

func TestConfirmRules(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	expect(t, e.confirm("TWVkaWFJZA/nope="), http.StatusNotFound)

	c := e.createMedia(nil)
	r := e.confirm(c.MediaID)
	expect(t, r, http.StatusConflict)
	r.errorBody(t)

	expect(t, e.upload(c.UploadURL, testmedia.PNG(2, 2, 0), nil), http.StatusCreated)
	expect(t, e.confirm(c.MediaID), http.StatusOK)
	expect(t, e.confirm(c.MediaID), http.StatusConflict)

	d := e.createMedia(nil)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(d.MediaID)}), http.StatusNoContent)
	expect(t, e.confirm(d.MediaID), http.StatusNotFound)
	if got := e.s.Stats().Media.Confirmed; got != 1 {
		t.Fatalf("confirmed = %d, want 1", got)
	}
}

func TestProcessingOutcomes(t *testing.T) {
	t.Parallel()
	png := testmedia.PNG(8, 6, 0)
	tests := []struct {
		name   string
		create map[string]any
		data   []byte
		rate   float64
		want   swonkie.MediaStatus
	}{
		{"png", nil, png, 0, swonkie.MediaSuccess},
		{"mp4 with duration", map[string]any{"duration": 2}, mediaBytes(t, "clip.mp4"), 0, swonkie.MediaSuccess},
		{"mp4 without its moov", nil, mediaBytes(t, "clip.mp4")[:2000], 0, swonkie.MediaError},
		{"text file", nil, []byte("just some words, not a picture"), 0, swonkie.MediaError},
		{"empty file", nil, []byte{}, 0, swonkie.MediaError},
		// Declared specs that disagree end in ERROR only in that mode; by
		// default the confirm is refused (TestDeclaredSpecs).
		{"size disagrees", map[string]any{"fileSize": len(png) + 1}, png, 0, swonkie.MediaError},
		{"size agrees", map[string]any{"fileSize": len(png)}, png, 0, swonkie.MediaSuccess},
		{"width disagrees", map[string]any{"width": 9, "height": 6}, png, 0, swonkie.MediaError},
		{"error rate 1", nil, png, 1, swonkie.MediaError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := start(t, sandbox.Options{ErrorRate: tt.rate, DeclaredMismatch: sandbox.MismatchFailsProcessing})
			body := map[string]any{"name": "f", "destinationType": "POST_MEDIA"}
			for k, v := range tt.create {
				body[k] = v
			}
			c := e.createMedia(body)
			expect(t, e.upload(c.UploadURL, tt.data, nil), http.StatusCreated)
			expect(t, e.confirm(c.MediaID), http.StatusOK)
			if st := e.mediaStatus(c.MediaID); st != tt.want {
				info, _ := e.s.Media(c.MediaID)
				t.Fatalf("status %s, want %s (%+v)", st, tt.want, info)
			}
			if tt.want == swonkie.MediaError {
				if info, _ := e.s.Media(c.MediaID); info.ErrorReason == "" {
					t.Fatal("ERROR media has no reason in introspection")
				}
			}
		})
	}
}

// TestErrorRateIsDeterministic: the same seed fails the same uploads, and
// the share is about ErrorRate.
func TestErrorRateIsDeterministic(t *testing.T) {
	t.Parallel()
	run := func(seed int64) []swonkie.MediaStatus {
		e := start(t, sandbox.Options{Seed: seed, ErrorRate: 0.3})
		var out []swonkie.MediaStatus
		png := testmedia.PNG(2, 2, 0)
		for range 40 {
			c := e.createMedia(nil)
			expect(t, e.upload(c.UploadURL, png, nil), http.StatusCreated)
			expect(t, e.confirm(c.MediaID), http.StatusOK)
			out = append(out, e.mediaStatus(c.MediaID))
		}
		return out
	}
	a, b, other := run(7), run(7), run(8)
	errors := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("media %d: %s with one server, %s with the other, same seed", i, a[i], b[i])
		}
		if a[i] == swonkie.MediaError {
			errors++
		}
	}
	if errors < 4 || errors > 20 {
		t.Fatalf("%d of 40 uploads failed with ErrorRate 0.3", errors)
	}
	same := true
	for i := range a {
		same = same && a[i] == other[i]
	}
	if same {
		t.Fatal("seeds 7 and 8 failed exactly the same uploads")
	}
}

func TestDeleteMedia(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{})
	id := e.readyMedia(testmedia.PNG(2, 2, 0))
	path := "/v2/media/" + esc(id)
	r := e.do(req{method: http.MethodDelete, path: path})
	expect(t, r, http.StatusNoContent)
	if len(r.body) != 0 {
		t.Fatalf("delete answered %s", r.body)
	}
	expect(t, e.do(req{method: http.MethodDelete, path: path}), http.StatusNotFound)
	expect(t, e.get(path), http.StatusNotFound)
	expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/unknown"}), http.StatusNotFound)
	info, ok := e.s.Media(id)
	if !ok || info.State != sandbox.StateDeleted || info.DeletedAt.IsZero() {
		t.Fatalf("introspection after delete: %+v", info)
	}
	if st := e.s.Stats().Media; st.Deleted != 1 || len(st.Orphaned) != 0 {
		t.Fatalf("stats after delete: %+v", st)
	}
}

func TestUnconfirmedMediaExpire(t *testing.T) {
	t.Parallel()
	e := start(t, sandbox.Options{UnconfirmedTTL: 2 * time.Hour})
	uploaded := e.createMedia(nil)
	expect(t, e.upload(uploaded.UploadURL, testmedia.PNG(2, 2, 0), nil), http.StatusCreated)
	bare := e.createMedia(nil)
	kept := e.readyMedia(testmedia.PNG(2, 2, 0))

	e.advance(119 * time.Minute)
	if st := e.mediaStatus(bare.MediaID); st != swonkie.MediaUploading {
		t.Fatalf("unconfirmed media is %s before its TTL", st)
	}
	e.advance(2 * time.Minute)
	for _, id := range []string{uploaded.MediaID, bare.MediaID} {
		expect(t, e.get("/v2/media/"+esc(id)), http.StatusNotFound)
		expect(t, e.confirm(id), http.StatusNotFound)
		expect(t, e.do(req{method: http.MethodDelete, path: "/v2/media/" + esc(id)}), http.StatusNotFound)
		if info, _ := e.s.Media(id); info.State != sandbox.StateExpired {
			t.Fatalf("media past its TTL is %s, want EXPIRED", info.State)
		}
	}
	if st := e.mediaStatus(kept); st != swonkie.MediaSuccess {
		t.Fatalf("confirmed media is %s after the TTL, want SUCCESS", st)
	}
	st := e.s.Stats().Media
	if st.Expired != 2 || st.Deleted != 0 {
		t.Fatalf("expired %d, deleted %d; want 2 and 0", st.Expired, st.Deleted)
	}
	// Expired media were never deleted by the client: they are orphans,
	// as is the unused confirmed one.
	if len(st.Orphaned) != 3 {
		t.Fatalf("orphaned %v, want all three", st.Orphaned)
	}
}

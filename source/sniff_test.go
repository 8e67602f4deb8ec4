package source

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// TestSniff opens real media headers from a file, and over HTTP with and
// without a length, and checks both the detected type and that every byte
// the sniffer peeked at is still delivered, in order. Trailing noise longer
// than the sniff window makes sure the peeked head is stitched back in front
// of the rest rather than replacing it.
func TestSniff(t *testing.T) {
	t.Parallel()
	noise := make([]byte, 3*sniffLen+17)
	rand.NewChaCha8([32]byte{1}).Read(noise)
	fixtures := []struct {
		name string
		data []byte
		want string
	}{
		{"photo.png", pngFile(t), "image/png"},
		{"photo.jpg", jpegFile(t), "image/jpeg"},
		{"anim.gif", gifFile(t), "image/gif"},
		{"photo.webp", webpFile(), "image/webp"},
		{"photo.heic", heicFile(), "image/heic"},
		{"clip.mp4", mp4File(), "video/mp4"},
		{"clip.mov", movFile(), "video/quicktime"},
		{"clip.webm", webmFile(), "video/webm"},
	}
	root := t.TempDir()
	var files []struct {
		name string
		data []byte
		want string
	}
	for _, f := range fixtures {
		for _, tail := range [][]byte{nil, noise} {
			data := append(append([]byte{}, f.data...), tail...)
			name := f.name
			if tail != nil {
				name = "long-" + name
			}
			if err := os.WriteFile(filepath.Join(root, name), data, 0o644); err != nil {
				t.Fatal(err)
			}
			files = append(files, struct {
				name string
				data []byte
				want string
			}{name, data, f.want})
		}
	}

	o := mustNew(t, Config{Root: root, AllowedHosts: loopback, SpoolDir: t.TempDir()})
	for _, f := range files {
		// The server labels everything octet-stream: the type must come from
		// the bytes.
		_, withLen := serve(t, serveBytes(f.data, "application/octet-stream", true))
		_, noLen := serve(t, serveBytes(f.data, "application/octet-stream", false))
		for _, src := range []string{
			f.name,
			"http://127.0.0.1:" + withLen + "/" + f.name,
			"http://127.0.0.1:" + noLen + "/" + f.name,
		} {
			m, err := o.Open(context.Background(), src, Hint{})
			if err != nil {
				t.Errorf("Open(%s): %v", src, err)
				continue
			}
			got := readAll(t, m)
			m.Close()
			if m.ContentType != f.want {
				t.Errorf("Open(%s): ContentType %q, want %q", src, m.ContentType, f.want)
			}
			if !Supported(m.ContentType) {
				t.Errorf("Open(%s): %q is not Supported", src, m.ContentType)
			}
			if m.Size != int64(len(f.data)) || !bytes.Equal(got, f.data) {
				t.Errorf("Open(%s): Size %d, read %d bytes, equal %v; want all %d bytes back", src, m.Size, len(got), bytes.Equal(got, f.data), len(f.data))
			}
		}
	}
}

func TestContentTypePrecedence(t *testing.T) {
	t.Parallel()
	png := pngFile(t)
	unknown := []byte{0x00, 0x01, 0x02, 0x03, 0xfe, 0xff, 0x10, 0x80}
	html := []byte("<!DOCTYPE html><html><body>Please log in</body></html>")
	tests := []struct {
		name   string
		body   []byte
		header string
		hint   string
		want   string
	}{
		{"bytes beat header", png, "text/plain", "", "image/png"},
		{"header fills in for unknown bytes", unknown, "video/mp4", "", "video/mp4"},
		{"header alias is normalised", unknown, "image/JPG; charset=binary", "", "image/jpeg"},
		{"meaningless header", unknown, "binary/octet-stream", "", "application/octet-stream"},
		{"no header", unknown, "", "", "application/octet-stream"},
		{"hint beats bytes", png, "image/png", "image/webp", "image/webp"},
		{"hint is normalised", unknown, "", " Image/PJPEG ", "image/jpeg"},
		{"login page served as a photo", html, "image/jpeg", "", "text/html; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := serveBytes(tt.body, tt.header, true)
			_, port := serve(t, h)
			o := mustNew(t, Config{AllowedHosts: loopback})
			m, err := o.Open(context.Background(), "http://127.0.0.1:"+port+"/x", Hint{ContentType: tt.hint})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.ContentType != tt.want {
				t.Errorf("ContentType = %q, want %q", m.ContentType, tt.want)
			}
			if got := readAll(t, m); !bytes.Equal(got, tt.body) {
				t.Errorf("read %q, want %q", got, tt.body)
			}
		})
	}
}

func TestName(t *testing.T) {
	t.Parallel()
	_, port := serve(t, serveBytes(pngFile(t), "", true))
	base := "http://127.0.0.1:" + port
	o := mustNew(t, Config{AllowedHosts: loopback})
	tests := []struct {
		src, hint, want string
	}{
		{base + "/a/b/beach.png?sig=x", "", "beach.png"},
		{base + "/a/b/beach%20day.png", "", "beach day.png"},
		{base + "/a/b/", "", "media"},
		{base, "", "media"},
		{base + "/beach.png", "holiday.png", "holiday.png"},
	}
	for _, tt := range tests {
		m, err := o.Open(context.Background(), tt.src, Hint{Name: tt.hint})
		if err != nil {
			t.Errorf("Open(%s): %v", tt.src, err)
			continue
		}
		m.Close()
		if m.Name != tt.want {
			t.Errorf("Open(%s, hint %q).Name = %q, want %q", tt.src, tt.hint, m.Name, tt.want)
		}
	}
}

func TestSupported(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"image/jpeg":                true,
		"image/jpg":                 true,
		"IMAGE/JPEG":                true,
		"image/png":                 true,
		"image/gif":                 true,
		"image/webp":                true,
		"image/heic":                true,
		"image/heif":                true,
		"video/mp4":                 true,
		"video/quicktime":           true,
		"video/x-m4v":               true,
		"video/webm":                true,
		"video/mp4; codecs=avc1":    true,
		"image/svg+xml":             false,
		"image/tiff":                false,
		"image/avif":                false,
		"video/x-matroska":          false,
		"video/3gpp":                false,
		"audio/mpeg":                false,
		"text/html; charset=utf-8":  false,
		"application/octet-stream":  false,
		"application/pdf":           false,
		"":                          false,
		"jpeg":                      false,
		"image/":                    false,
		"image/jpeg; charset=\"x\"": true,
	}
	for ct, want := range tests {
		if got := Supported(ct); got != want {
			t.Errorf("Supported(%q) = %v, want %v", ct, got, want)
		}
	}
}

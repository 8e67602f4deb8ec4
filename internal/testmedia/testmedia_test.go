package testmedia_test

import (
	"bytes"
	"image/png"
	"net/http"
	"testing"

	"github.com/mediaflow/mediaflow/internal/testmedia"
)

func TestPNG(t *testing.T) {
	t.Parallel()
	a, b := testmedia.PNG(16, 12, 1), testmedia.PNG(16, 12, 2)
	if bytes.Equal(a, b) {
		t.Fatal("two seeds gave the same file")
	}
	img, err := png.Decode(bytes.NewReader(a))
	if err != nil || img.Bounds().Dx() != 16 || img.Bounds().Dy() != 12 {
		t.Fatalf("decode: %v, bounds %v", err, img.Bounds())
	}
	if ct := http.DetectContentType(a); ct != "image/png" {
		t.Fatalf("sniffs as %s", ct)
	}
}

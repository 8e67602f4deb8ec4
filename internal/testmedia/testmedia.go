// Package testmedia makes the small, valid media files tests publish.
package testmedia

import (
	"bytes"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
)

// PNG returns a w×h PNG whose pixels depend on seed, so files made with
// different seeds differ (and hash differently) while each is valid and
// sniffs as image/png.
func PNG(w, h, seed int) []byte {
	var buf bytes.Buffer
	// Encoding an in-memory RGBA image cannot fail.
	_ = png.Encode(&buf, pattern(w, h, seed))
	return buf.Bytes()
}

// JPEG is PNG's pattern as a baseline JPEG, for networks that take JPEG
// only (Instagram).
func JPEG(w, h, seed int) []byte {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, pattern(w, h, seed), nil)
	return buf.Bytes()
}

// WriteJPEG writes JPEG(w, h, seed) to path.
func WriteJPEG(path string, w, h, seed int) error {
	return os.WriteFile(path, JPEG(w, h, seed), 0o644)
}

func pattern(w, h, seed int) image.Image {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x*8 + seed*40), uint8(y * 8), uint8(seed * 80), 255})
		}
	}
	return img
}

// WritePNG writes PNG(w, h, seed) to path.
func WritePNG(path string, w, h, seed int) error {
	return os.WriteFile(path, PNG(w, h, seed), 0o644)
}

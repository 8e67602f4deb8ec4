package mediainfo

import (
	"fmt"
	"image"
	"image/gif"
	"image/png"
	"io"

	"golang.org/x/image/webp"
)

// configDecoders read PNG, GIF and WebP headers: the standard decoders
// and golang.org/x/image's, which stop after the header when asked for a
// config.
var configDecoders = map[Format]func(io.Reader) (image.Config, error){
	PNG:  png.DecodeConfig,
	GIF:  gif.DecodeConfig,
	WebP: webp.DecodeConfig,
}

func probeConfig(f *file, format Format) (Info, error) {
	// The decoders buffer what they read, a few KiB at most, and never
	// read past the header they need.
	src := &watchedReader{r: f.r}
	cfg, err := configDecoders[format](io.NewSectionReader(src, 0, f.size))
	switch {
	case src.err != nil:
		// The reader failed: that says nothing about the file.
		return Info{}, fmt.Errorf("read %s header: %w", format, src.err)
	case err != nil:
		return Info{}, malformed(format, "%v", err)
	case cfg.Width <= 0 || cfg.Height <= 0:
		return Info{}, malformed(format, "size %dx%d", cfg.Width, cfg.Height)
	}
	return Info{Kind: Image, Format: format, Width: cfg.Width, Height: cfg.Height, Orientation: 1}, nil
}

// watchedReader remembers the first failure of r other than the end of
// the file, which a decoder would otherwise report as a bad header.
type watchedReader struct {
	r   io.ReaderAt
	err error
}

func (w *watchedReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := w.r.ReadAt(p, off)
	if err != nil && err != io.EOF && w.err == nil {
		w.err = err
	}
	return n, err
}

// probeWebP reads the WebP header, and the VP8X flags for animation.
func probeWebP(f *file) (Info, error) {
	info, err := probeConfig(f, WebP)
	if err != nil {
		return info, err
	}
	// RIFF header (12 bytes), then the first chunk: "VP8X", its length,
	// and the flags byte, whose bit 1 says animation.
	if f.size >= 21 {
		if b, err := f.read(WebP, 12, 9); err == nil && string(b[:4]) == "VP8X" {
			info.Animated = b[8]&0x02 != 0
		}
	}
	return info, nil
}

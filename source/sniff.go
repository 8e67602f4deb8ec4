package source

import (
	"mime"
	"strings"

	"github.com/gabriel-vasile/mimetype"
)

// sniffLen is how much of a source is read to recognise it: mimetype's own
// default limit, enough for every container social networks take.
const sniffLen = 4096

const octetStream = "application/octet-stream"

// detectType picks a content type: the caller's hint, else what the first
// bytes say, else the server's header when it says something, else
// application/octet-stream. The bytes outrank the header because servers
// routinely mislabel media, and an HTML error page served as image/jpeg with
// 200 OK must not be published as a photo.
func detectType(hint string, head []byte, header string) string {
	if t := normalizeType(hint); t != "" {
		return t
	}
	if m := mimetype.Detect(head); !m.Is(octetStream) {
		return normalizeType(m.String())
	}
	if t := normalizeType(header); t != "" && !meaningless[baseType(t)] {
		return t
	}
	return octetStream
}

// meaningless are header values that say no more than "some bytes".
var meaningless = map[string]bool{
	octetStream:                  true,
	"binary/octet-stream":        true,
	"application/unknown":        true,
	"application/x-unknown":      true,
	"application/download":       true,
	"application/force-download": true,
}

// aliases maps spellings seen in the wild to the registered type, so that
// Swonkie is told the name it knows.
var aliases = map[string]string{
	"image/jpg":   "image/jpeg",
	"image/pjpeg": "image/jpeg",
	"image/x-png": "image/png",
	"video/mov":   "video/quicktime",
}

// normalizeType lower-cases a media type, maps aliases and drops parameters
// from image and video types, where none are meaningful. A value that does
// not parse is kept as written so that Supported refuses it by name.
func normalizeType(t string) string {
	t = strings.TrimSpace(t)
	if t == "" {
		return ""
	}
	base, params, err := mime.ParseMediaType(t)
	if err != nil {
		return t
	}
	if a, ok := aliases[base]; ok {
		base = a
	}
	if strings.HasPrefix(base, "image/") || strings.HasPrefix(base, "video/") || len(params) == 0 {
		return base
	}
	return mime.FormatMediaType(base, params)
}

func baseType(t string) string {
	base, _, _ := strings.Cut(t, ";")
	return strings.TrimSpace(base)
}

// supported is what the networks Swonkie publishes to take as photos and
// videos. Formats only some of them take (AVIF, 3GP, Matroska, TIFF, BMP) are
// left out: refusing before anything is created is cheaper than a media entry
// the target network rejects after processing.
var supported = map[string]bool{
	"image/jpeg":      true,
	"image/png":       true,
	"image/gif":       true,
	"image/webp":      true,
	"image/heic":      true,
	"image/heif":      true,
	"video/mp4":       true,
	"video/x-m4v":     true,
	"video/quicktime": true,
	"video/webm":      true,
}

// Supported reports whether contentType is an image or video type mediaflow
// will publish. Parameters and letter case are ignored, and common aliases
// (image/jpg) are accepted.
func Supported(contentType string) bool {
	return supported[baseType(normalizeType(contentType))]
}

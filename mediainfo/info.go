package mediainfo

import (
	"encoding/json"
	"math"
	"time"
)

// Kind says whether a file is a still image or a video.
type Kind string

const (
	Image Kind = "image"
	Video Kind = "video"
)

// Format names a container. The names are the ones publishing rules use.
type Format string

const (
	JPEG Format = "jpeg"
	PNG  Format = "png"
	GIF  Format = "gif"
	WebP Format = "webp"
	HEIC Format = "heic" // HEIF with HEVC-coded images
	HEIF Format = "heif" // any other HEIF still (brand mif1 without heic)
	AVIF Format = "avif"
	MP4  Format = "mp4"
	M4V  Format = "m4v"
	MOV  Format = "mov"
)

// mimeTypes are the registered media types of each format.
var mimeTypes = map[Format]string{
	JPEG: "image/jpeg", PNG: "image/png", GIF: "image/gif", WebP: "image/webp",
	HEIC: "image/heic", HEIF: "image/heif", AVIF: "image/avif",
	MP4: "video/mp4", M4V: "video/x-m4v", MOV: "video/quicktime",
}

// Info is what a probe found out.
type Info struct {
	Kind   Kind
	Format Format
	// Width and Height are the pixel size as stored: the coded size of a
	// video's first visual sample description, the frame size of an image.
	// Display turns them the way a viewer sees them.
	Width, Height int
	// Orientation is the EXIF orientation, 1 to 8: how the stored pixels
	// must be turned for display. 1 (as stored) when the file says nothing.
	// Videos and HEIF images get the value matching their transform.
	Orientation int
	// Duration of a video: the movie header's, else the longest track's.
	Duration time.Duration
	// VideoCodec and AudioCodec name a video's codecs (h264, hevc, av1,
	// vp9, prores, aac, …); an unknown one is its sample entry's
	// four-character code. AudioCodec is "" when there is no audio track.
	VideoCodec, AudioCodec string
	// Animated is set for a WebP that declares an animation. (A GIF's
	// frame count would need the whole file.)
	Animated bool
}

// MIME is the format's registered media type.
func (i Info) MIME() string { return mimeTypes[i.Format] }

// Rotation is how many degrees clockwise the stored picture is turned
// for display: 0, 90, 180 or 270.
func (i Info) Rotation() int { return orientations[i.normOrientation()].rotation }

// Mirrored reports whether display also flips the picture horizontally.
func (i Info) Mirrored() bool { return orientations[i.normOrientation()].mirrored }

// Display is the size a viewer sees: Width and Height, swapped when the
// orientation turns the picture a quarter.
func (i Info) Display() (width, height int) {
	if r := i.Rotation(); r == 90 || r == 270 {
		return i.Height, i.Width
	}
	return i.Width, i.Height
}

// AspectRatio is the displayed width over height; 0 when unknown.
func (i Info) AspectRatio() float64 {
	w, h := i.Display()
	if w <= 0 || h <= 0 {
		return 0
	}
	return float64(w) / float64(h)
}

// Seconds is Duration in seconds, rounded to the millisecond: the unit
// Swonkie's `duration` takes.
func (i Info) Seconds() float64 {
	return math.Round(i.Duration.Seconds()*1000) / 1000
}

func (i Info) normOrientation() int {
	if i.Orientation < 1 || i.Orientation > 8 {
		return 1
	}
	return i.Orientation
}

// infoJSON is Info on the wire: derived values included, the duration in
// seconds, so records and API answers need no Go to be read.
type infoJSON struct {
	Kind          Kind    `json:"kind"`
	Format        Format  `json:"format"`
	MIME          string  `json:"mime"`
	Width         int     `json:"width"`
	Height        int     `json:"height"`
	DisplayWidth  int     `json:"displayWidth"`
	DisplayHeight int     `json:"displayHeight"`
	Orientation   int     `json:"orientation"`
	Rotation      int     `json:"rotation"`
	Duration      float64 `json:"duration,omitempty"`
	VideoCodec    string  `json:"videoCodec,omitempty"`
	AudioCodec    string  `json:"audioCodec,omitempty"`
	Animated      bool    `json:"animated,omitempty"`
}

func (i Info) MarshalJSON() ([]byte, error) {
	dw, dh := i.Display()
	return json.Marshal(infoJSON{
		Kind: i.Kind, Format: i.Format, MIME: i.MIME(), Width: i.Width, Height: i.Height,
		DisplayWidth: dw, DisplayHeight: dh, Orientation: i.normOrientation(), Rotation: i.Rotation(),
		Duration: i.Duration.Seconds(), VideoCodec: i.VideoCodec, AudioCodec: i.AudioCodec, Animated: i.Animated,
	})
}

func (i *Info) UnmarshalJSON(b []byte) error {
	var w infoJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*i = Info{Kind: w.Kind, Format: w.Format, Width: w.Width, Height: w.Height, Orientation: w.Orientation,
		Duration:   time.Duration(math.Round(w.Duration * float64(time.Second))),
		VideoCodec: w.VideoCodec, AudioCodec: w.AudioCodec, Animated: w.Animated}
	return nil
}

// orientation is one EXIF orientation as a turn and a flip: mirror
// horizontally first (when mirrored), then turn clockwise.
type orientation struct {
	rotation int
	mirrored bool
}

var orientations = [9]orientation{
	1: {0, false}, 2: {0, true}, 3: {180, false}, 4: {180, true},
	5: {270, true}, 6: {90, false}, 7: {90, true}, 8: {270, false},
}

// orientationOf is the EXIF orientation of a clockwise turn, with or
// without a mirror.
func orientationOf(rotation int, mirrored bool) int {
	rotation = ((rotation % 360) + 360) % 360
	for o := 1; o <= 8; o++ {
		if orientations[o] == (orientation{rotation, mirrored}) {
			return o
		}
	}
	return 1
}

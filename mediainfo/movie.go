package mediainfo

import (
	"encoding/binary"
	"math"
	"time"
)

// track is what a movie's trak box says about one track.
type track struct {
	handler        string // "vide", "soun", …
	enabled        bool
	width, height  int      // tkhd presentation size
	matrix         [4]int32 // a, b, c, d of the tkhd matrix, 16.16
	timescale      uint32
	duration       uint64
	codec          string // first sample entry's type
	codedW, codedH int
}

// probeMovie reads a moov box: mvhd (timescale, duration), mvex/mehd
// (duration of a fragmented movie) and, per track, tkhd (size, matrix),
// mdhd (duration), hdlr (kind) and the first stsd entry (codec, coded
// size). The sample tables, often most of the moov, are never read.
func probeMovie(f *file, moov box, format Format) (Info, error) {
	var timescale uint32
	var duration, fragmented uint64
	var tracks []track
	err := f.eachBox(format, moov.body(), moov.end(), func(b box) (bool, error) {
		switch b.typ {
		case "mvhd":
			ts, d, err := readMediaHeader(f, format, b)
			if err != nil {
				return false, err
			}
			timescale, duration = ts, d
		case "mvex":
			return false, f.eachBox(format, b.body(), b.end(), func(c box) (bool, error) {
				if c.typ != "mehd" {
					return false, nil
				}
				d, err := f.readSmall(format, c, 12)
				if err != nil {
					return false, err
				}
				if d[0] == 0 {
					d = d[:8]
				} else if len(d) < 12 {
					return false, malformed(format, "mehd box is %d bytes", c.size)
				}
				fragmented = uintN(d[4:])
				return true, nil
			})
		case "trak":
			t, err := readTrack(f, format, b)
			if err != nil {
				return false, err
			}
			tracks = append(tracks, t)
		}
		return false, nil
	})
	if err != nil {
		return Info{}, err
	}

	video := pickTrack(tracks, "vide")
	if video == nil {
		return Info{}, malformed(format, "no video track")
	}
	info := Info{Kind: Video, Format: format, VideoCodec: codecName(video.codec),
		Width: video.codedW, Height: video.codedH}
	if info.Width == 0 || info.Height == 0 {
		info.Width, info.Height = video.width, video.height
	}
	if info.Width <= 0 || info.Height <= 0 {
		return Info{}, malformed(format, "video track has no size")
	}
	info.Orientation = matrixOrientation(video.matrix)
	if audio := pickTrack(tracks, "soun"); audio != nil {
		info.AudioCodec = codecName(audio.codec)
	}

	// The movie header's duration covers every track and its edits; a
	// fragmented movie leaves it 0 and may say it in mehd instead.
	switch {
	case duration != 0 && timescale != 0:
		info.Duration = toDuration(duration, timescale)
	case fragmented != 0 && timescale != 0:
		info.Duration = toDuration(fragmented, timescale)
	default:
		for _, t := range tracks {
			if t.timescale != 0 {
				info.Duration = max(info.Duration, toDuration(t.duration, t.timescale))
			}
		}
	}
	return info, nil
}

// pickTrack is the first enabled track of the handler, else the first
// of the handler at all.
func pickTrack(tracks []track, handler string) *track {
	var first *track
	for i := range tracks {
		t := &tracks[i]
		if t.handler != handler {
			continue
		}
		if t.enabled {
			return t
		}
		if first == nil {
			first = t
		}
	}
	return first
}

func readTrack(f *file, format Format, trak box) (track, error) {
	var t track
	err := f.eachBox(format, trak.body(), trak.end(), func(b box) (bool, error) {
		switch b.typ {
		case "tkhd":
			return false, readTrackHeader(f, format, b, &t)
		case "mdia":
			return false, f.eachBox(format, b.body(), b.end(), func(c box) (bool, error) {
				switch c.typ {
				case "mdhd":
					ts, d, err := readMediaHeader(f, format, c)
					t.timescale, t.duration = ts, d
					return false, err
				case "hdlr":
					h, err := f.readBody(format, c, 12)
					if err != nil {
						return false, err
					}
					t.handler = string(h[8:12])
				case "minf":
					return false, f.eachBox(format, c.body(), c.end(), func(d box) (bool, error) {
						if d.typ != "stbl" {
							return false, nil
						}
						return true, f.eachBox(format, d.body(), d.end(), func(e box) (bool, error) {
							if e.typ != "stsd" {
								return false, nil
							}
							return true, readSampleEntry(f, format, e, &t)
						})
					})
				}
				return false, nil
			})
		}
		return false, nil
	})
	return t, err
}

// readTrackHeader reads tkhd: flags (enabled), matrix, width and height.
func readTrackHeader(f *file, format Format, b box, t *track) error {
	body, err := f.readSmall(format, b, 4+32+8+8+36+8)
	if err != nil {
		return err
	}
	// version 0: 4+4+4+4+4 bytes of times, id and duration; version 1: 8+8+4+4+8.
	times := 20
	if body[0] == 1 {
		times = 32
	}
	if len(body) < 4+times+8+8+36+8 {
		return malformed(format, "tkhd box is %d bytes", b.size)
	}
	t.enabled = body[3]&1 != 0
	m := body[4+times+16:]
	for i, k := range []int{0, 1, 3, 4} {
		t.matrix[i] = int32(binary.BigEndian.Uint32(m[4*k:]))
	}
	t.width = int(binary.BigEndian.Uint32(m[36:]) >> 16)
	t.height = int(binary.BigEndian.Uint32(m[40:]) >> 16)
	return nil
}

// readMediaHeader reads the timescale and duration of an mvhd or mdhd,
// which share their start.
func readMediaHeader(f *file, format Format, b box) (timescale uint32, duration uint64, err error) {
	body, err := f.readSmall(format, b, 4+8+8+4+8)
	if err != nil {
		return 0, 0, err
	}
	if body[0] == 1 {
		if len(body) < 32 {
			return 0, 0, malformed(format, "%s box is %d bytes", b.typ, b.size)
		}
		return binary.BigEndian.Uint32(body[20:]), binary.BigEndian.Uint64(body[24:]), nil
	}
	if len(body) < 20 {
		return 0, 0, malformed(format, "%s box is %d bytes", b.typ, b.size)
	}
	d := uint64(binary.BigEndian.Uint32(body[16:]))
	if d == math.MaxUint32 {
		d = 0 // "unknown"
	}
	return binary.BigEndian.Uint32(body[12:]), d, nil
}

// readSampleEntry reads the first entry of an stsd: its type names the
// codec, and a visual entry holds the coded width and height.
func readSampleEntry(f *file, format Format, stsd box, t *track) error {
	// version/flags, entry count, then the entry: size, type, 6 reserved,
	// data reference index, 16 bytes of pre-defined and reserved, width,
	// height.
	const entryType, visualEnd = 12, 44
	h, err := f.readSmall(format, stsd, visualEnd)
	if err != nil {
		return err
	}
	if len(h) < entryType+4 || binary.BigEndian.Uint32(h[4:]) == 0 {
		return malformed(format, "a track has no sample description")
	}
	t.codec = string(h[entryType : entryType+4])
	if t.handler == "vide" && len(h) >= visualEnd {
		t.codedW = int(binary.BigEndian.Uint16(h[40:]))
		t.codedH = int(binary.BigEndian.Uint16(h[42:]))
	}
	return nil
}

// matrixOrientation turns a transform into an EXIF orientation. With x'
// = a·x + c·y and y' = b·x + d·y on a screen whose y axis points down, a
// clockwise turn by θ is a = cos θ, b = sin θ; a mirror (negative
// determinant) is read as "flip left-right, then turn".
func matrixOrientation(m [4]int32) int {
	a, b, c, d := float64(m[0]), float64(m[1]), float64(m[2]), float64(m[3])
	mirrored := a*d-b*c < 0
	if mirrored {
		a, b = -a, -b
	}
	deg := math.Atan2(b, a) * 180 / math.Pi
	return orientationOf(int(math.Round(deg/90))*90, mirrored)
}

func toDuration(units uint64, timescale uint32) time.Duration {
	secs := float64(units) / float64(timescale)
	return time.Duration(math.Round(secs * float64(time.Second)))
}

func uintN(b []byte) uint64 {
	if len(b) >= 8 {
		return binary.BigEndian.Uint64(b)
	}
	return uint64(binary.BigEndian.Uint32(b))
}

// codecs maps sample entry types to codec names.
var codecs = map[string]string{
	"avc1": "h264", "avc3": "h264",
	"hvc1": "hevc", "hev1": "hevc", "dvh1": "hevc", "dvhe": "hevc",
	"av01": "av1", "vp09": "vp9", "vp08": "vp8", "mp4v": "mpeg4", "jpeg": "mjpeg",
	"apch": "prores", "apcn": "prores", "apcs": "prores", "apco": "prores", "ap4h": "prores", "ap4x": "prores",
	"mp4a": "aac", "ac-3": "ac3", "ec-3": "eac3", "Opus": "opus", "fLaC": "flac", ".mp3": "mp3",
	"sowt": "pcm", "twos": "pcm", "lpcm": "pcm", "ipcm": "pcm", "samr": "amr",
}

func codecName(fourcc string) string {
	if n, ok := codecs[fourcc]; ok {
		return n
	}
	return fourcc
}

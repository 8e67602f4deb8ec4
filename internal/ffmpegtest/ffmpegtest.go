// Package ffmpegtest makes real media files with ffmpeg (Debian's
// package, installed by scripts/test-deps) for the tests of code that
// reads them. Files are made in a folder the caller owns, usually once per
// test package in TestMain, and never committed.
package ffmpegtest

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Require reports whether ffmpeg and ffprobe can be run, saying how to
// install them when not.
func Require() error {
	for _, p := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(p); err != nil {
			return fmt.Errorf("%s is not installed: run scripts/test-deps (Debian package ffmpeg)", p)
		}
	}
	return nil
}

// Video describes a video to make. The picture is a plain colour, cheap
// to encode at any size.
type Video struct {
	Width, Height int
	Seconds       float64
	// FPS defaults to 5: frames cost encoding time, and nothing here
	// reads the frame rate.
	FPS int
	// Codec is "h264" (default) or "hevc".
	Codec string
	// RotationACW is the display rotation ffmpeg writes into the track
	// matrix, in degrees anti-clockwise as ffmpeg counts it (ffprobe shows
	// it as the stream's "rotation").
	RotationACW int
	// FastStart moves moov before mdat; without it ffmpeg writes moov at
	// the end, after the media data.
	FastStart bool
	// Audio adds an AAC track, muxed before the video track so that a
	// reader must pick the video track by its handler.
	Audio bool
}

// MakeVideo writes v to path, whose extension (.mp4, .mov) picks the
// container.
func MakeVideo(path string, v Video) error {
	fps := v.FPS
	if fps == 0 {
		fps = 5
	}
	args := []string{"-f", "lavfi", "-i", fmt.Sprintf("color=c=0x3366cc:s=%dx%d:r=%d:d=%g", v.Width, v.Height, fps, v.Seconds)}
	maps := []string{"-map", "0:v"}
	if v.Audio {
		args = append(args, "-f", "lavfi", "-i", fmt.Sprintf("anullsrc=r=48000:cl=stereo:d=%g", v.Seconds))
		maps = []string{"-map", "1:a", "-map", "0:v", "-c:a", "aac", "-b:a", "64k"}
	}
	args = append(args, maps...)
	switch v.Codec {
	case "", "h264":
		args = append(args, "-c:v", "libx264", "-preset", "ultrafast")
	case "hevc":
		args = append(args, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error", "-tag:v", "hvc1")
	default:
		return fmt.Errorf("ffmpegtest: unknown codec %q", v.Codec)
	}
	args = append(args, "-pix_fmt", "yuv420p")
	if v.FastStart {
		args = append(args, "-movflags", "+faststart")
	}
	if v.RotationACW == 0 {
		return run("ffmpeg", append(args, path)...)
	}
	// The rotation is set on a copy: ffmpeg 6 and later take it as an
	// input option (-display_rotation), ffmpeg 5 as stream metadata.
	plain := path + ".plain" + filepath.Ext(path)
	defer os.Remove(plain)
	if err := run("ffmpeg", append(args, plain)...); err != nil {
		return err
	}
	copyArgs := []string{"-c", "copy"}
	if v.FastStart {
		copyArgs = append(copyArgs, "-movflags", "+faststart")
	}
	if hasOption("display_rotation") {
		return run("ffmpeg", append([]string{"-display_rotation:v:0", strconv.Itoa(v.RotationACW), "-i", plain}, append(copyArgs, path)...)...)
	}
	return run("ffmpeg", append([]string{"-i", plain}, append(copyArgs, "-metadata:s:v:0", "rotate="+strconv.Itoa(v.RotationACW), path)...)...)
}

// MakeImage writes a w×h test picture to path, whose extension (.png,
// .jpg, .gif, .webp, .avif) picks the format.
func MakeImage(path string, w, h int) error {
	args := []string{"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=s=%dx%d:r=1", w, h), "-frames:v", "1"}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".avif":
		args = append(args, "-c:v", "libaom-av1", "-still-picture", "1", "-cpu-used", "8", "-pix_fmt", "yuv420p")
	case ".jpg", ".jpeg":
		args = append(args, "-q:v", "5")
	}
	return run("ffmpeg", append(args, path)...)
}

// WithEXIFOrientation rewrites the JPEG at path with an APP1 EXIF segment
// that holds only an orientation tag, as cameras write it (big-endian
// TIFF, IFD0, tag 0x0112), placed right after SOI where cameras put it.
func WithEXIFOrientation(path string, orientation uint16) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(data, []byte{0xFF, 0xD8}) {
		return fmt.Errorf("ffmpegtest: %s is not a JPEG", path)
	}
	tiff := []byte("MM\x00*\x00\x00\x00\x08") // header, IFD0 at 8
	tiff = binary.BigEndian.AppendUint16(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.BigEndian.AppendUint16(tiff, 3) // SHORT
	tiff = binary.BigEndian.AppendUint32(tiff, 1)
	tiff = binary.BigEndian.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0) // value padding, no next IFD
	payload := append([]byte("Exif\x00\x00"), tiff...)
	seg := []byte{0xFF, 0xE1}
	seg = binary.BigEndian.AppendUint16(seg, uint16(len(payload)+2))
	seg = append(seg, payload...)
	out := append(append(append([]byte{}, data[:2]...), seg...), data[2:]...)
	return os.WriteFile(path, out, 0o644)
}

// Probe is what ffprobe says about a file: the reference a reader of media
// files is checked against.
type Probe struct {
	Width, Height int
	Codec         string
	Duration      float64
	// RotationACW is the display matrix's rotation, anti-clockwise.
	RotationACW int
}

// FFprobe asks ffprobe about the first video stream of path.
func FFprobe(path string) (Probe, error) {
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-print_format", "json",
		"-show_entries", "stream=width,height,codec_name:stream_side_data=rotation:format=duration", path).Output()
	if err != nil {
		return Probe{}, fmt.Errorf("ffprobe %s: %w", filepath.Base(path), exitError(err))
	}
	var raw struct {
		Streams []struct {
			Width, Height int
			CodecName     string `json:"codec_name"`
			SideData      []struct {
				Rotation *int `json:"rotation"`
			} `json:"side_data_list"`
		}
		Format struct {
			Duration string
		}
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return Probe{}, fmt.Errorf("ffprobe %s: %w", filepath.Base(path), err)
	}
	if len(raw.Streams) == 0 {
		return Probe{}, fmt.Errorf("ffprobe %s: no video stream", filepath.Base(path))
	}
	s := raw.Streams[0]
	p := Probe{Width: s.Width, Height: s.Height, Codec: s.CodecName}
	p.Duration, _ = strconv.ParseFloat(raw.Format.Duration, 64)
	for _, sd := range s.SideData {
		if sd.Rotation != nil {
			p.RotationACW = *sd.Rotation
		}
	}
	return p, nil
}

// PadMdat copies the MP4 at src, whose moov must come after its mdat (as
// ffmpeg writes it without faststart), to dst with the mdat grown to about
// total bytes, so that moov starts past total. The padding is a hole in a
// sparse file: nothing is written for it. The mdat gets a 64-bit size in
// the 16 bytes that ffmpeg's free box and the mdat header take, so every
// sample stays at its offset and the file stays valid (ffprobe reads it).
func PadMdat(src, dst string, total int64) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	var freeAt, mdatAt, moovAt int64 = -1, -1, -1
	var mdatSize int64
	for off := int64(0); off+8 <= int64(len(data)); {
		size := int64(binary.BigEndian.Uint32(data[off:]))
		typ := string(data[off+4 : off+8])
		if size < 8 {
			return fmt.Errorf("ffmpegtest: pad %s: box %q at %d has size %d", src, typ, off, size)
		}
		switch typ {
		case "free":
			if size == 8 {
				freeAt = off
			}
		case "mdat":
			mdatAt, mdatSize = off, size
		case "moov":
			moovAt = off
		}
		off += size
	}
	switch {
	case mdatAt < 0 || moovAt < mdatAt:
		return fmt.Errorf("ffmpegtest: pad %s: want mdat before moov", src)
	case freeAt != mdatAt-8:
		return fmt.Errorf("ffmpegtest: pad %s: want an 8-byte free box right before mdat", src)
	}
	payload := data[mdatAt+8 : mdatAt+mdatSize]
	pad := total - int64(len(data))
	if pad <= 0 {
		return fmt.Errorf("ffmpegtest: pad %s: it is already %d bytes", src, len(data))
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	hdr := binary.BigEndian.AppendUint32(nil, 1)
	hdr = append(hdr, "mdat"...)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(16+int64(len(payload))+pad))
	_, err = f.Write(data[:freeAt])
	if err == nil {
		_, err = f.Write(hdr)
	}
	if err == nil {
		_, err = f.Write(payload)
	}
	if err == nil {
		_, err = f.Seek(pad, io.SeekCurrent)
	}
	if err == nil {
		_, err = f.Write(data[moovAt:])
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

var (
	helpOnce sync.Once
	helpText []byte
)

// hasOption reports whether this ffmpeg knows a command-line option.
func hasOption(name string) bool {
	helpOnce.Do(func() { helpText, _ = exec.Command("ffmpeg", "-hide_banner", "-h", "full").Output() })
	return bytes.Contains(helpText, []byte("-"+name+" "))
}

func run(name string, args ...string) error {
	args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// exitError adds what the program said on stderr.
func exitError(err error) error {
	var ee *exec.ExitError
	if errors.As(err, &ee) && len(ee.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, bytes.TrimSpace(ee.Stderr))
	}
	return err
}

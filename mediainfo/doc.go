// Package mediainfo tells what a media file is — its format, pixel size,
// orientation and, for videos, duration, rotation and codec — by reading
// only the few headers that say so.
//
// Probe takes an io.ReaderAt and the file's size, so a local file and a
// URL read through HTTP range requests are probed alike. It never reads a
// file whole: a JPEG is read segment header by segment header up to its
// frame header, an MP4 or MOV box header by box header, skipping the media
// data by offset, so a `moov` box at the end of a 2 GiB file costs a few
// kilobytes. ProbeStream does the same over a plain io.Reader that can
// only go forward (an upload being received), discarding what it skips.
//
// Formats: JPEG (with its EXIF orientation), PNG, GIF, WebP, HEIF/HEIC and
// AVIF stills (size from `ispe`, rotation from `irot`, mirroring from
// `imir`), and ISO BMFF movies — MP4, M4V and QuickTime MOV — with `moov`
// before or after `mdat`, fragmented ones included. PNG, GIF and WebP
// headers are read by the standard library and golang.org/x/image; JPEG
// and the ISO BMFF boxes by the small readers here, which read less than a
// full decoder would and also find the orientation.
package mediainfo

package mediainfo

import (
	"encoding/binary"
	"slices"
)

// ISO base media file format (ISO/IEC 14496-12): MP4, MOV, HEIF and AVIF
// are all trees of boxes, each a 32-bit size, a four-character type and a
// body; size 1 means a 64-bit size follows the type, size 0 "to the end".

// box is one box: where it starts, how long its header is, and its size.
type box struct {
	typ  string
	off  int64
	hdr  int64
	size int64
}

func (b box) body() int64     { return b.off + b.hdr }
func (b box) end() int64      { return b.off + b.size }
func (b box) bodyLen() int64  { return b.size - b.hdr }
func (b box) String() string  { return b.typ }
func (b box) fits(n int) bool { return b.bodyLen() >= int64(n) }

// maxBoxes bounds how many boxes one level may hold, so that a file of
// countless empty boxes cannot turn into countless reads.
const maxBoxes = 4096

// eachBox calls fn for every box in [start, end) of f, in file order,
// until fn says stop. Trailing bytes too few for a header are ignored
// (QuickTime ends some lists with four zero bytes).
func (f *file) eachBox(format Format, start, end int64, fn func(box) (stop bool, err error)) error {
	off := start
	for range maxBoxes {
		if end-off < 8 {
			return nil
		}
		h, err := f.read(format, off, 8)
		if err != nil {
			return err
		}
		b := box{typ: string(h[4:8]), off: off, hdr: 8, size: int64(binary.BigEndian.Uint32(h[:4]))}
		switch b.size {
		case 0:
			b.size = end - off
		case 1:
			l, err := f.read(format, off+8, 8)
			if err != nil {
				return err
			}
			b.hdr, b.size = 16, int64(binary.BigEndian.Uint64(l))
		}
		if b.size < b.hdr || b.size > end-off {
			return malformed(format, "box %q at offset %d claims %d bytes; %d are left", b.typ, off, b.size, end-off)
		}
		stop, err := fn(b)
		if err != nil || stop {
			return err
		}
		off = b.end()
	}
	return malformed(format, "more than %d boxes in one list", maxBoxes)
}

// readBody reads the first n bytes of b's body.
func (f *file) readBody(format Format, b box, n int) ([]byte, error) {
	if !b.fits(n) {
		return nil, malformed(format, "box %q is %d bytes, too short", b.typ, b.size)
	}
	return f.read(format, b.body(), int64(n))
}

// readSmall reads b's body, or its first n bytes when it is longer: one
// read, so a forward-only stream never has to go back.
func (f *file) readSmall(format Format, b box, n int) ([]byte, error) {
	if n < 1 || !b.fits(1) {
		return nil, malformed(format, "box %q is %d bytes, too short", b.typ, b.size)
	}
	return f.read(format, b.body(), min(b.bodyLen(), int64(n)))
}

// topLevel are the box types a file may start with: ftyp, or for old
// QuickTime files any of the usual top-level boxes.
var topLevel = []string{"ftyp", "moov", "mdat", "wide", "free", "skip", "pnot"}

func looksLikeBMFF(head []byte) bool {
	return len(head) >= 8 && slices.Contains(topLevel, string(head[4:8]))
}

// heifBrands are the ftyp brands of HEIF still images (ISO/IEC 23008-12
// and the AVIF specification). Image sequences (msf1, hevs, avis) carry a
// moov and are read as movies.
var heifBrands = []string{"mif1", "mif2", "heic", "heix", "heim", "heis", "avif"}

// probeBMFF reads the top-level boxes: the file type, then a still
// image's meta box or a movie's moov, wherever it is. mdat and everything
// else is skipped by its size, never read.
func probeBMFF(f *file) (Info, error) {
	var major string
	var compatible []string
	var meta, moov *box
	err := f.eachBox(MP4, 0, f.size, func(b box) (bool, error) {
		switch b.typ {
		case "ftyp":
			if major != "" || b.off != 0 {
				return false, nil
			}
			body, err := f.readSmall(MP4, b, 256)
			if err != nil {
				return false, err
			}
			if len(body) < 8 {
				return false, malformed(MP4, "ftyp box is %d bytes", b.size)
			}
			major = string(body[:4])
			for i := 8; i+4 <= len(body); i += 4 {
				compatible = append(compatible, string(body[i:i+4]))
			}
		case "meta":
			meta = &b
		case "moov":
			moov = &b
		}
		// A still image's meta comes before its data; a movie needs
		// nothing past its moov.
		return moov != nil || (meta != nil && isHEIF(major)), nil
	})
	if err != nil {
		return Info{}, err
	}
	if meta != nil && isHEIF(major) {
		return probeHEIF(f, *meta, heifFormat(major, compatible))
	}
	format := movieFormat(major)
	if moov == nil {
		return Info{}, malformed(format, "no moov box")
	}
	return probeMovie(f, *moov, format)
}

func isHEIF(major string) bool { return slices.Contains(heifBrands, major) }

func heifFormat(major string, compatible []string) Format {
	switch {
	case major == "avif" || (major == "mif1" && slices.Contains(compatible, "avif")):
		return AVIF
	case major == "heic" || major == "heix" || major == "heim" || major == "heis" || slices.Contains(compatible, "heic"):
		return HEIC
	}
	return HEIF
}

func movieFormat(major string) Format {
	switch major {
	case "qt  ", "":
		// A file without ftyp is an old QuickTime movie.
		return MOV
	case "M4V ", "M4VH", "M4VP":
		return M4V
	}
	return MP4
}

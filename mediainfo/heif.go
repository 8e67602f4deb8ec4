package mediainfo

import (
	"bytes"
	"encoding/binary"
)

// maxMetaLen bounds the meta box read into memory. A phone's HEIC with a
// hundred tiles has a meta of a few KiB; Exif and XMP live in mdat.
const maxMetaLen = 4 << 20

// probeHEIF reads a HEIF still's meta box (ISO/IEC 23008-12): the primary
// item (pitm), and of the properties associated with it (iprp: ipco and
// ipma) the size (ispe) and the transforms (irot, imir). A grid image's
// ispe is the whole picture's size.
func probeHEIF(f *file, meta box, format Format) (Info, error) {
	if meta.bodyLen() > maxMetaLen {
		return Info{}, malformed(format, "meta box is %d bytes; at most %d are read", meta.size, maxMetaLen)
	}
	body, err := f.read(format, meta.body(), meta.bodyLen())
	if err != nil {
		return Info{}, err
	}
	if len(body) < 4 {
		return Info{}, malformed(format, "meta box is empty")
	}
	// meta is a full box: version and flags come first.
	m := &file{r: bytes.NewReader(body), size: int64(len(body))}
	var primary uint32
	var props []box // ipco's boxes; property index k is props[k-1]
	assoc := map[uint32][]int{}
	err = m.eachBox(format, 4, m.size, func(b box) (bool, error) {
		switch b.typ {
		case "pitm":
			p, err := m.readSmall(format, b, 8)
			if err != nil {
				return false, err
			}
			if p[0] == 0 && len(p) >= 6 {
				primary = uint32(binary.BigEndian.Uint16(p[4:]))
			} else if len(p) >= 8 {
				primary = binary.BigEndian.Uint32(p[4:])
			}
		case "iprp":
			return false, m.eachBox(format, b.body(), b.end(), func(c box) (bool, error) {
				switch c.typ {
				case "ipco":
					return false, m.eachBox(format, c.body(), c.end(), func(p box) (bool, error) {
						props = append(props, p)
						return false, nil
					})
				case "ipma":
					return false, readAssociations(m, format, c, assoc)
				}
				return false, nil
			})
		}
		return false, nil
	})
	if err != nil {
		return Info{}, err
	}

	indexes, ok := assoc[primary]
	if !ok {
		// No primary item or no associations for it: fall back to every
		// property in order, which is right for the one-image files that
		// omit them.
		for k := range props {
			indexes = append(indexes, k+1)
		}
	}
	info := Info{Kind: Image, Format: format}
	transform := identity
	for _, k := range indexes {
		if k < 1 || k > len(props) {
			return Info{}, malformed(format, "property index %d out of range (%d properties)", k, len(props))
		}
		p := props[k-1]
		switch p.typ {
		case "ispe":
			if info.Width != 0 {
				continue
			}
			b, err := m.readSmall(format, p, 12)
			if err != nil {
				return Info{}, err
			}
			if len(b) < 12 {
				return Info{}, malformed(format, "ispe box is %d bytes", p.size)
			}
			info.Width = int(binary.BigEndian.Uint32(b[4:]))
			info.Height = int(binary.BigEndian.Uint32(b[8:]))
		case "irot":
			b, err := m.readSmall(format, p, 1)
			if err != nil {
				return Info{}, err
			}
			// Anti-clockwise, in quarter turns.
			transform = transform.then(quarterTurnsACW(int(b[0] & 3)))
		case "imir":
			b, err := m.readSmall(format, p, 1)
			if err != nil {
				return Info{}, err
			}
			// Axis 0 is vertical: left and right swap. Axis 1 is
			// horizontal: top and bottom swap.
			if b[0]&1 == 0 {
				transform = transform.then(flipLeftRight)
			} else {
				transform = transform.then(flipTopBottom)
			}
		}
	}
	if info.Width <= 0 || info.Height <= 0 {
		return Info{}, malformed(format, "primary image has no size (ispe)")
	}
	info.Orientation = matrixOrientation(transform.abcd())
	return info, nil
}

// readAssociations reads ipma: for each item, the 1-based indexes of its
// properties in ipco, in the order they apply.
func readAssociations(m *file, format Format, b box, out map[uint32][]int) error {
	data, err := m.read(format, b.body(), b.bodyLen())
	if err != nil {
		return err
	}
	bad := func() error { return malformed(format, "ipma box is truncated") }
	if len(data) < 8 {
		return bad()
	}
	version, flags := data[0], data[3]
	n := binary.BigEndian.Uint32(data[4:])
	p := data[8:]
	for range n {
		var item uint32
		if version < 1 {
			if len(p) < 3 {
				return bad()
			}
			item, p = uint32(binary.BigEndian.Uint16(p)), p[2:]
		} else {
			if len(p) < 5 {
				return bad()
			}
			item, p = binary.BigEndian.Uint32(p), p[4:]
		}
		count := int(p[0])
		p = p[1:]
		for range count {
			var idx int
			if flags&1 != 0 {
				if len(p) < 2 {
					return bad()
				}
				idx, p = int(binary.BigEndian.Uint16(p)&0x7fff), p[2:]
			} else {
				if len(p) < 1 {
					return bad()
				}
				idx, p = int(p[0]&0x7f), p[1:]
			}
			if idx != 0 { // 0 means "no property"
				out[item] = append(out[item], idx)
			}
		}
	}
	return nil
}

// transform2 is a 2×2 integer transform [[a, c], [b, d]]: x' = a·x + c·y,
// y' = b·x + d·y, the layout of an ISO BMFF matrix, y pointing down.
type transform2 struct{ a, b, c, d int32 }

var (
	identity      = transform2{1, 0, 0, 1}
	flipLeftRight = transform2{-1, 0, 0, 1}
	flipTopBottom = transform2{1, 0, 0, -1}
)

// quarterTurnsACW is n quarter turns anti-clockwise on the screen.
func quarterTurnsACW(n int) transform2 {
	t := identity
	for range n {
		t = t.then(transform2{0, -1, 1, 0})
	}
	return t
}

// then is t followed by u.
func (t transform2) then(u transform2) transform2 {
	return transform2{
		a: u.a*t.a + u.c*t.b,
		b: u.b*t.a + u.d*t.b,
		c: u.a*t.c + u.c*t.d,
		d: u.b*t.c + u.d*t.d,
	}
}

func (t transform2) abcd() [4]int32 { return [4]int32{t.a, t.b, t.c, t.d} }

package mediainfo

import (
	"bytes"
	"encoding/binary"
)

// maxSegments bounds the walk through a JPEG's segments, so that a file
// of endless empty segments cannot turn into endless reads.
const maxSegments = 1024

// probeJPEG walks the segments from SOI to the first frame header (SOFn),
// reading only their 4-byte headers, an APP1 EXIF segment (for the
// orientation) and the frame header's size fields; everything else is
// skipped by offset.
func probeJPEG(f *file) (Info, error) {
	info := Info{Kind: Image, Format: JPEG, Orientation: 1}
	exifSeen := false
	off := int64(2) // after SOI
	for range maxSegments {
		b, err := f.read(JPEG, off, 2)
		if err != nil {
			return Info{}, err
		}
		if b[0] != 0xFF {
			return Info{}, malformed(JPEG, "no segment marker at offset %d", off)
		}
		marker := b[1]
		switch {
		case marker == 0xFF: // fill byte before a marker
			off++
			continue
		case marker == 0x01 || (marker >= 0xD0 && marker <= 0xD7): // no length
			off += 2
			continue
		case marker == 0xD9 || marker == 0xDA:
			return Info{}, malformed(JPEG, "no frame header before the image data")
		}
		b, err = f.read(JPEG, off+2, 2)
		if err != nil {
			return Info{}, err
		}
		length := int64(binary.BigEndian.Uint16(b))
		if length < 2 {
			return Info{}, malformed(JPEG, "segment %#x at offset %d has length %d", marker, off, length)
		}
		switch {
		case marker == 0xE1 && !exifSeen:
			seg, err := f.read(JPEG, off+4, length-2)
			if err != nil {
				return Info{}, err
			}
			if tiff, ok := bytes.CutPrefix(seg, []byte("Exif\x00\x00")); ok {
				exifSeen = true
				if o := exifOrientation(tiff); o != 0 {
					info.Orientation = o
				}
			}
		case isSOF(marker):
			sof, err := f.read(JPEG, off+4, 5)
			if err != nil {
				return Info{}, err
			}
			info.Height = int(binary.BigEndian.Uint16(sof[1:3]))
			info.Width = int(binary.BigEndian.Uint16(sof[3:5]))
			if info.Width == 0 || info.Height == 0 {
				// A height of 0 defers to a DNL segment after the first
				// scan, which no publishing network takes anyway.
				return Info{}, malformed(JPEG, "frame header gives size %dx%d", info.Width, info.Height)
			}
			return info, nil
		}
		off += 2 + length
	}
	return Info{}, malformed(JPEG, "no frame header in the first %d segments", maxSegments)
}

// isSOF reports the start-of-frame markers C0–CF, less DHT (C4), JPG (C8)
// and DAC (CC), which share the range.
func isSOF(m byte) bool {
	return m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC
}

// exifOrientation reads tag 0x0112 of IFD0 of a TIFF structure; 0 when it
// is absent or not a valid orientation.
func exifOrientation(tiff []byte) int {
	if len(tiff) < 8 {
		return 0
	}
	var order binary.ByteOrder
	switch string(tiff[:4]) {
	case "II*\x00":
		order = binary.LittleEndian
	case "MM\x00*":
		order = binary.BigEndian
	default:
		return 0
	}
	ifd := int64(order.Uint32(tiff[4:8]))
	if ifd < 8 || ifd+2 > int64(len(tiff)) {
		return 0
	}
	n := int64(order.Uint16(tiff[ifd:]))
	for i := range n {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(tiff)) {
			return 0
		}
		entry := tiff[e : e+12]
		if order.Uint16(entry[0:2]) != 0x0112 {
			continue
		}
		// SHORT, one value, stored in the first two bytes of the value
		// field.
		if order.Uint16(entry[2:4]) != 3 || order.Uint32(entry[4:8]) != 1 {
			return 0
		}
		if o := int(order.Uint16(entry[8:10])); o >= 1 && o <= 8 {
			return o
		}
		return 0
	}
	return 0
}

package mediainfo_test

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"

	"github.com/mediaflow/mediaflow/mediainfo"
)

// box builds an ISO BMFF box.
func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(out, typ...), body...)
}

// fullBox is a box with version and flags.
func fullBox(typ string, version byte, flags uint32, payload ...[]byte) []byte {
	vf := binary.BigEndian.AppendUint32(nil, uint32(version)<<24|flags)
	return box(typ, append([][]byte{vf}, payload...)...)
}

func u16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func u32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

// heic builds a HEIC still whose primary item (2) has a 4000×3000 ispe
// and the given transform properties; item 1 is a thumbnail with its own
// ispe, listed first to catch a probe that takes any ispe.
func heic(transforms ...[]byte) []byte {
	props := [][]byte{
		fullBox("ispe", 0, 0, u32(320), u32(240)),   // 1: thumbnail
		fullBox("ispe", 0, 0, u32(4000), u32(3000)), // 2: primary
	}
	props = append(props, transforms...)
	ipma := append(u32(2), u16(1)...)
	ipma = append(ipma, 1, 0x81) // item 1: property 1, essential
	ipma = append(ipma, u16(2)...)
	ipma = append(ipma, byte(1+len(transforms)), 2)
	for k := range transforms {
		ipma = append(ipma, byte(0x80|(3+k)))
	}
	meta := fullBox("meta", 0, 0,
		fullBox("hdlr", 0, 0, u32(0), []byte("pict"), make([]byte, 13)),
		fullBox("pitm", 0, 0, u16(2)),
		box("iprp", box("ipco", props...), fullBox("ipma", 0, 0, ipma)),
	)
	return append(append(box("ftyp", []byte("heic\x00\x00\x00\x00mif1heic")), meta...), box("mdat", make([]byte, 64))...)
}

func TestHEIFTransforms(t *testing.T) {
	t.Parallel()
	irot := func(quarters byte) []byte { return box("irot", []byte{quarters}) }
	imir := func(axis byte) []byte { return box("imir", []byte{axis}) }
	tests := []struct {
		name        string
		transforms  [][]byte
		orientation int
		display     [2]int
	}{
		{"none", nil, 1, [2]int{4000, 3000}},
		{"quarter turn anti-clockwise", [][]byte{irot(1)}, 8, [2]int{3000, 4000}},
		{"half turn", [][]byte{irot(2)}, 3, [2]int{4000, 3000}},
		{"three quarters anti-clockwise", [][]byte{irot(3)}, 6, [2]int{3000, 4000}},
		{"mirror left-right", [][]byte{imir(0)}, 2, [2]int{4000, 3000}},
		{"mirror top-bottom", [][]byte{imir(1)}, 4, [2]int{4000, 3000}},
		{"turn then mirror", [][]byte{irot(1), imir(0)}, 7, [2]int{3000, 4000}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := heic(tt.transforms...)
			got, err := mediainfo.Probe(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			w, h := got.Display()
			if got.Format != mediainfo.HEIC || got.Width != 4000 || got.Height != 3000 ||
				got.Orientation != tt.orientation || [2]int{w, h} != tt.display {
				t.Fatalf("probe %+v display %dx%d; want HEIC 4000x3000 orientation %d display %v", got, w, h, tt.orientation, tt.display)
			}
		})
	}
}

// movie builds a minimal MP4 whose video track has the tkhd matrix m.
func movie(m [9]int32) []byte {
	matrix := make([]byte, 0, 36)
	for _, v := range m {
		matrix = binary.BigEndian.AppendUint32(matrix, uint32(v))
	}
	tkhd := fullBox("tkhd", 0, 1, make([]byte, 20), make([]byte, 16), matrix, u32(1920<<16), u32(1080<<16))
	mdhd := fullBox("mdhd", 0, 0, make([]byte, 8), u32(1000), u32(3000), make([]byte, 4))
	hdlr := fullBox("hdlr", 0, 0, u32(0), []byte("vide"), make([]byte, 13))
	entry := box("avc1", make([]byte, 24), u16(1920), u16(1080), make([]byte, 50))
	stsd := fullBox("stsd", 0, 0, u32(1), entry)
	trak := box("trak", tkhd, box("mdia", mdhd, hdlr, box("minf", box("stbl", stsd))))
	mvhd := fullBox("mvhd", 0, 0, make([]byte, 8), u32(1000), u32(3000), make([]byte, 80))
	return append(box("ftyp", []byte("isom\x00\x00\x02\x00isom")), box("moov", mvhd, trak)...)
}

func TestTrackMatrixOrientation(t *testing.T) {
	t.Parallel()
	const one, neg = 1 << 16, -1 << 16
	tests := []struct {
		name        string
		a, b, c, d  int32
		orientation int
		rotation    int
	}{
		{"identity", one, 0, 0, one, 1, 0},
		{"phone portrait (90 clockwise)", 0, one, neg, 0, 6, 90},
		{"upside down", neg, 0, 0, neg, 3, 180},
		{"270 clockwise", 0, neg, one, 0, 8, 270},
		{"mirrored", neg, 0, 0, one, 2, 0},
		{"scaled identity", 2 * one, 0, 0, 2 * one, 1, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := movie([9]int32{tt.a, tt.b, 0, tt.c, tt.d, 0, 0, 0, 1 << 30})
			got, err := mediainfo.Probe(bytes.NewReader(data), int64(len(data)))
			if err != nil {
				t.Fatal(err)
			}
			if got.Orientation != tt.orientation || got.Rotation() != tt.rotation || got.Seconds() != 3 {
				t.Fatalf("probe %+v rotation %d; want orientation %d rotation %d, 3 s", got, got.Rotation(), tt.orientation, tt.rotation)
			}
		})
	}
}

// Every EXIF orientation, written into a real JPEG as cameras write it.
func TestEXIFOrientations(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(fixture("photo.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for o := uint16(1); o <= 8; o++ {
		path := t.TempDir() + "/o.jpg"
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		var order binary.AppendByteOrder = binary.LittleEndian
		if o%2 == 1 {
			order = binary.BigEndian
		}
		if err := writeEXIF(path, o, order); err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(path)
		got, err := mediainfo.Probe(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		w, h := got.Display()
		wantW, wantH := 640, 480
		if o >= 5 {
			wantW, wantH = 480, 640
		}
		if got.Orientation != int(o) || w != wantW || h != wantH {
			t.Errorf("orientation %d: probe %+v display %dx%d", o, got, w, h)
		}
	}
}

// writeEXIF puts an Exif APP1 segment with the orientation, in the given
// byte order, after SOI, behind a JFIF APP0 as many cameras do.
func writeEXIF(path string, orientation uint16, order binary.AppendByteOrder) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	tiff := []byte("II*\x00")
	if order == binary.BigEndian {
		tiff = []byte("MM\x00*")
	}
	tiff = order.AppendUint32(tiff, 8)
	tiff = order.AppendUint16(tiff, 2)
	// An unrelated tag first (ImageWidth), then the orientation.
	tiff = order.AppendUint16(tiff, 0x0100)
	tiff = order.AppendUint16(tiff, 4)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint32(tiff, 640)
	tiff = order.AppendUint16(tiff, 0x0112)
	tiff = order.AppendUint16(tiff, 3)
	tiff = order.AppendUint32(tiff, 1)
	tiff = order.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	app1 := append([]byte{0xFF, 0xE1}, binary.BigEndian.AppendUint16(nil, uint16(len(seg)+2))...)
	app0 := []byte{0xFF, 0xE0, 0, 16, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0}
	out := append(append(append(append([]byte{0xFF, 0xD8}, app0...), app1...), seg...), data[2:]...)
	return os.WriteFile(path, out, 0o644)
}

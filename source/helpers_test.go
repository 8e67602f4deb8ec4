package source

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

// fakeResolver is a DNS server in memory: names map to the addresses the
// test chooses, so a host name can be made to resolve to any blocked class
// without touching the network. Unknown names get NXDOMAIN.
func fakeResolver(records map[string][]netip.Addr) *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			client, server := net.Pipe()
			go serveDNS(server, records)
			return client, nil
		},
	}
}

// serveDNS answers queries in DNS-over-TCP framing, which the Go resolver
// uses on a connection that is not a net.PacketConn.
func serveDNS(c net.Conn, records map[string][]netip.Addr) {
	defer c.Close()
	for {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil || len(q) < 12 {
			return
		}
		// Walk the question name to find its end, type and class.
		i, labels := 12, []string{}
		for i < len(q) && q[i] != 0 {
			n := int(q[i])
			labels = append(labels, string(q[i+1:i+1+n]))
			i += 1 + n
		}
		qend := i + 5 // root label, type, class
		if qend > len(q) {
			return
		}
		qtype := binary.BigEndian.Uint16(q[i+1:])
		name := strings.ToLower(strings.Join(labels, "."))

		addrs, known := records[name]
		var answers [][]byte
		for _, a := range addrs {
			switch {
			case qtype == 1 && a.Is4():
				b := a.As4()
				answers = append(answers, b[:])
			case qtype == 28 && a.Is6():
				b := a.As16()
				answers = append(answers, b[:])
			}
		}
		resp := append([]byte{}, q[:2]...) // id
		flags := uint16(0x8180)            // response, recursion desired and available
		if !known {
			flags |= 3 // NXDOMAIN
		}
		resp = binary.BigEndian.AppendUint16(resp, flags)
		resp = binary.BigEndian.AppendUint16(resp, 1)
		resp = binary.BigEndian.AppendUint16(resp, uint16(len(answers)))
		resp = append(resp, 0, 0, 0, 0)
		resp = append(resp, q[12:qend]...)
		for _, rdata := range answers {
			resp = append(resp, 0xc0, 12) // pointer to the question name
			resp = binary.BigEndian.AppendUint16(resp, qtype)
			resp = binary.BigEndian.AppendUint16(resp, 1)
			resp = binary.BigEndian.AppendUint32(resp, 60)
			resp = binary.BigEndian.AppendUint16(resp, uint16(len(rdata)))
			resp = append(resp, rdata...)
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

func addrs(ss ...string) []netip.Addr {
	out := make([]netip.Addr, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParseAddr(s)
	}
	return out
}

func mustNew(t testing.TB, cfg Config) *Opener {
	t.Helper()
	o, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return o
}

// serve starts a loopback server and returns it with its port.
func serve(t testing.TB, h http.Handler) (*httptest.Server, string) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return srv, u.Port()
}

// serveBytes answers every request with body, with or without a
// Content-Length header.
func serveBytes(body []byte, contentType string, withLength bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		if !withLength {
			// Flushing before the end forces chunked encoding: no length.
			half := len(body) / 2
			w.Write(body[:half])
			w.(http.Flusher).Flush()
			w.Write(body[half:])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	})
}

func readAll(t testing.TB, m *Media) []byte {
	t.Helper()
	b, err := io.ReadAll(m)
	if err != nil {
		t.Fatalf("read media: %v", err)
	}
	return b
}

func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *source.Error", err, err)
	}
	return e
}

// Real, tiny media files. Images come from the standard encoders; containers
// are built box by box, since their headers are what the sniffer reads.

func testImage() image.Image {
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, A: 255})
	return img
}

func pngFile(t testing.TB) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, testImage()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func jpegFile(t testing.TB) []byte {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gifFile(t testing.TB) []byte {
	var b bytes.Buffer
	if err := gif.Encode(&b, testImage(), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// box builds an ISO-BMFF box: 32-bit size, type, payload.
func box(typ string, payload ...[]byte) []byte {
	body := bytes.Join(payload, nil)
	out := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(out, typ...), body...)
}

func ftypFile(major string, compatible ...string) []byte {
	payload := [][]byte{[]byte(major), {0, 0, 2, 0}}
	for _, c := range compatible {
		payload = append(payload, []byte(c))
	}
	return append(box("ftyp", payload...), box("mdat", bytes.Repeat([]byte{0xAB}, 64))...)
}

func mp4File() []byte  { return ftypFile("isom", "isom", "iso2", "mp41") }
func movFile() []byte  { return ftypFile("qt  ", "qt  ") }
func heicFile() []byte { return ftypFile("heic", "mif1", "heic") }

func webpFile() []byte {
	chunk := append([]byte("VP8L"), binary.LittleEndian.AppendUint32(nil, 5)...)
	chunk = append(chunk, 0x2f, 0, 0, 0, 0, 0)
	body := append([]byte("WEBP"), chunk...)
	return append(append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(len(body)))...), body...)
}

func webmFile() []byte {
	header := []byte{
		0x42, 0x86, 0x81, 0x01, // EBMLVersion 1
		0x42, 0xF7, 0x81, 0x01, // EBMLReadVersion 1
		0x42, 0xF2, 0x81, 0x04, // EBMLMaxIDLength 4
		0x42, 0xF3, 0x81, 0x08, // EBMLMaxSizeLength 8
		0x42, 0x82, 0x84, 'w', 'e', 'b', 'm', // DocType "webm"
		0x42, 0x87, 0x81, 0x04, // DocTypeVersion 4
		0x42, 0x85, 0x81, 0x02, // DocTypeReadVersion 2
	}
	out := append([]byte{0x1A, 0x45, 0xDF, 0xA3, 0x80 | byte(len(header))}, header...)
	return append(out, 0x18, 0x53, 0x80, 0x67, 0x01, 0xFF) // Segment, unknown size
}

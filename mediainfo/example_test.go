package mediainfo_test

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"log"

	"github.com/mediaflow/mediaflow/mediainfo"
)

func ExampleProbe() {
	var file bytes.Buffer
	if err := png.Encode(&file, image.NewGray(image.Rect(0, 0, 640, 480))); err != nil {
		log.Fatal(err)
	}
	// Any io.ReaderAt will do: an *os.File, or a reader that makes HTTP
	// range requests (source.Opener.Probe).
	info, err := mediainfo.Probe(bytes.NewReader(file.Bytes()), int64(file.Len()))
	if err != nil {
		log.Fatal(err)
	}
	w, h := info.Display()
	fmt.Println(info.Kind, info.Format, info.MIME(), w, h, info.Rotation())

	_, err = mediainfo.Probe(bytes.NewReader([]byte("hello")), 5)
	fmt.Println(err)
	// Output:
	// image png image/png 640 480 0
	// not a known image or video format
}

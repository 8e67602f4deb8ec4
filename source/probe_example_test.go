package source_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"log"
	"os"
	"path/filepath"

	"github.com/mediaflow/mediaflow/source"
)

func ExampleOpener_Probe() {
	root, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	var pic bytes.Buffer
	if err := png.Encode(&pic, image.NewGray(image.Rect(0, 0, 1080, 1350))); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "portrait.png"), pic.Bytes(), 0o644); err != nil {
		log.Fatal(err)
	}
	opener, err := source.New(source.Config{Root: root})
	if err != nil {
		log.Fatal(err)
	}

	// An http(s) source is probed the same way, with range requests.
	p, err := opener.Probe(context.Background(), "portrait.png", source.Hint{})
	if err != nil {
		log.Fatal(err)
	}
	w, h := p.Info.Display()
	fmt.Println(p.Name, p.ContentType, p.Info.Kind, w, h)

	_, err = opener.Probe(context.Background(), "missing.mp4", source.Hint{})
	fmt.Println(err, source.IsPermanent(err))
	// Output:
	// portrait.png image/png image 1080 1350
	// probe source missing.mp4: no such file true
}

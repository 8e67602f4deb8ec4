package source_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"

	"github.com/mediaflow/mediaflow/source"
)

func Example() {
	root, err := os.MkdirTemp("", "media")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(root)
	// The eight-byte PNG signature and the start of its header chunk are all
	// the sniffer needs.
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
	if err := os.WriteFile(filepath.Join(root, "beach.png"), png, 0o644); err != nil {
		log.Fatal(err)
	}

	opener, err := source.New(source.Config{Root: root})
	if err != nil {
		log.Fatal(err)
	}

	// At enqueue time: refuse bad sources before anything is queued.
	for _, src := range []string{
		"beach.png",
		"ftp://user:pw@files.example.com/beach.png",
		"http://169.254.169.254/latest/meta-data/?token=s3cr3t",
	} {
		if err := opener.Check(src); err != nil {
			fmt.Printf("refused (permanent %v): %v\n", source.IsPermanent(err), err)
			continue
		}
		fmt.Println("accepted:", src)
	}

	// In the upload step: stream the file to wherever it goes.
	m, err := opener.Open(context.Background(), "beach.png", source.Hint{})
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	n, err := io.Copy(io.Discard, m)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name, m.ContentType, m.Size, n, source.Supported(m.ContentType))

	// Output:
	// accepted: beach.png
	// refused (permanent true): check source ftp://files.example.com/beach.png: scheme "ftp" is not supported: use a path under MEDIA_ROOT, a file:// URL, or an http(s) URL
	// refused (permanent true): check source http://169.254.169.254/latest/meta-data/: address 169.254.169.254 is not a public address (link-local, cloud metadata service); if this source is trusted, add "169.254.169.254" to ALLOWED_SOURCE_HOSTS
	// beach.png image/png 29 29 true
}

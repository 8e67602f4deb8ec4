package ui

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// docShots are the README's screenshots of the pages, rewritten by
// go test ./ui -run TestBrowserOperatorTools -update.
var docShots = []string{"ui.png", "ui-detail.png", "ui-bulk-confirm.png"}

// maxShotBytes keeps the screenshots light in git and in the README.
const maxShotBytes = 300 << 10

func writeDocShots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	for name, b := range shots {
		if len(b) == 0 || len(b) > maxShotBytes {
			t.Fatalf("screenshot %s is %d bytes; want some, at most %d", name, len(b), maxShotBytes)
		}
		path := filepath.Join("..", "docs", name)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
	}
}

// The README's screenshots are there, are PNGs of a desktop-sized page,
// light enough, and the README's page section shows each.
func TestREADMEScreenshot(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range docShots {
		path := filepath.Join("..", "docs", name)
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v: regenerate it with go test ./ui -run TestBrowserOperatorTools -update", err)
		}
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s is not a PNG: %v", path, err)
		}
		if cfg.Width < 1000 || cfg.Height < 300 {
			t.Errorf("%s is %dx%d; want a desktop-sized page", path, cfg.Width, cfg.Height)
		}
		if len(b) > maxShotBytes {
			t.Errorf("%s is %d bytes; keep it under %d", path, len(b), maxShotBytes)
		}
		if !strings.Contains(string(readme), "(docs/"+name+")") {
			t.Errorf("the README does not show docs/%s", name)
		}
	}
}

package ui

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// readmeShot is the README's screenshot, rewritten by -update.
var readmeShot = filepath.Join("..", "docs", "ui.png")

func writeREADMEShot(t *testing.T, list, _ []byte) {
	t.Helper()
	if err := os.WriteFile(readmeShot, list, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", readmeShot)
}

// The README's screenshot is there and is a PNG of a desktop-sized page.
func TestREADMEScreenshot(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(readmeShot)
	if err != nil {
		t.Fatalf("%v: regenerate it with go test ./ui -run TestBrowser -update", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", readmeShot, err)
	}
	if cfg.Width < 1000 || cfg.Height < 300 {
		t.Errorf("%s is %dx%d; want a desktop-sized page", readmeShot, cfg.Width, cfg.Height)
	}
}

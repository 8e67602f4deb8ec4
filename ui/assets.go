package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// assets are the page templates and the static files, in the binary: the
// pages need nothing fetched at run time and nothing built before.
//
//go:embed assets/templates/*.html assets/static/*
var assets embed.FS

var static, _ = fs.Sub(assets, "assets/static")

// staticVersions are short content hashes of the static files: a page
// links "app.js?v=<hash>", so a browser may keep a file for good and still
// fetches the new one after an upgrade.
var staticVersions = func() map[string]string {
	v := map[string]string{}
	entries, _ := fs.ReadDir(static, ".")
	for _, e := range entries {
		b, _ := fs.ReadFile(static, e.Name())
		sum := sha256.Sum256(b)
		v[e.Name()] = hex.EncodeToString(sum[:6])
	}
	return v
}()

func assetURL(name string) string {
	return Prefix + "static/" + name + "?v=" + staticVersions[name]
}

var contentTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".svg": "image/svg+xml",
	".png": "image/png",
}

func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := fs.ReadFile(static, name)
	ct, known := contentTypes[path.Ext(name)]
	if err != nil || !known || strings.Contains(name, "/") {
		http.Error(w, "no such file", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", ct)
	if v := r.URL.Query().Get("v"); v != "" && v == staticVersions[name] {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "no-cache")
	}
	_, _ = w.Write(b)
}

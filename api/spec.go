package api

import (
	_ "embed"
	"net/http"
)

// Spec is openapi.yaml, the API's OpenAPI 3.1 description.
//
//go:embed openapi.yaml
var Spec []byte

// serveSpec is GET /v1/openapi.yaml. It needs no token: it holds no data,
// and client generators can fetch it.
func serveSpec(w http.ResponseWriter, _ *http.Request) {
	// RFC 9512 registers application/yaml.
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(Spec)
}

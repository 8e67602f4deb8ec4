// Package tracked checks the repository itself: git tracks source, not
// what a build makes. Its test runs with every `make test` (CI's command):
// a compiled binary, or any file over 1 MiB but sample media, fails it.
package tracked

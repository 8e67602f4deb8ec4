//go:build !unix

package freeport

import "testing"

// Refusing returns an address nothing listens on a moment ago. Only Unix can
// hold a port without listening on it, so elsewhere another server may take
// the port before the caller dials it.
func Refusing(tb testing.TB) string { return TestAddr(tb) }

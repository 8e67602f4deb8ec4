// Package freeport finds a local TCP port nothing listens on, for programs
// (redis-server, prometheus, a worker binary) that must be told their port
// rather than report the one they picked. Another process may take the port
// before the caller binds it; callers that can, retry.
package freeport

import (
	"net"
	"strconv"
	"testing"
)

// Addr returns 127.0.0.1:port with a port that was free a moment ago.
func Addr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Port is Addr's port.
func Port() (int, error) {
	a, err := Addr()
	if err != nil {
		return 0, err
	}
	_, p, err := net.SplitHostPort(a)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// TestAddr is Addr for a test, failing it when no port can be had.
func TestAddr(tb testing.TB) string {
	tb.Helper()
	a, err := Addr()
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

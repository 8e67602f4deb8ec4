//go:build unix

package freeport

import (
	"net"
	"strconv"
	"syscall"
	"testing"
)

// Refusing returns 127.0.0.1:port with a port that refuses every connection
// until the test ends. The port is bound and never listened on: a closed
// listener's address is not enough, since the kernel hands its port to the
// next server a parallel test starts, and a "refused" call then reaches it.
func Refusing(tb testing.TB) string {
	tb.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM, 0)
	if err != nil {
		tb.Fatalf("socket for a refusing address: %v", err)
	}
	syscall.CloseOnExec(fd) // a program the test starts must not hold it
	tb.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		tb.Fatalf("bind a refusing address: %v", err)
	}
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		tb.Fatalf("name the refusing address: %v", err)
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(sa.(*syscall.SockaddrInet4).Port))
}

package freeport_test

import (
	"errors"
	"net"
	"strconv"
	"syscall"
	"testing"

	"github.com/mediaflow/mediaflow/internal/freeport"
)

func TestThePortIsFreeAndMatches(t *testing.T) {
	t.Parallel()
	addr := freeport.TestAddr(t)
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on the free address %s: %v", addr, err)
	}
	l.Close()
	p, err := freeport.Port()
	if err != nil || p <= 0 || p > 65535 {
		t.Fatalf("port %d, %v", p, err)
	}
	if _, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p)); err != nil {
		t.Fatalf("listen on the free port %d: %v", p, err)
	}
}

// The refusing address refuses, and no listener can take it while the test
// runs.
func TestRefusingRefusesAndStaysTaken(t *testing.T) {
	t.Parallel()
	addr := freeport.Refusing(t)
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			t.Fatalf("a connection to the refusing address %s was accepted", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial %s: %v, want connection refused", addr, err)
		}
	}
	if l, err := net.Listen("tcp", addr); err == nil {
		l.Close()
		t.Fatalf("a listener took the refusing address %s", addr)
	}
}

package freeport_test

import (
	"net"
	"strconv"
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

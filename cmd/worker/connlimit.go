package main

import (
	"net"
	"net/http"
	"sync"
)

// connLimiter caps the connections a server holds open. When the cap is
// reached it closes, to make room, the idle keep-alive connection that has
// waited longest, or failing that the oldest connection that has not sent
// a whole request yet; only when every held connection has a request in
// progress does it stop accepting. A plain cap (netutil.LimitListener) would let a
// stranger's idle connections hold every slot, so /readyz and the API
// would stop answering while the worker sat idle.
type connLimiter struct {
	net.Listener
	max int

	mu      sync.Mutex
	changed *sync.Cond // a connection went idle or away, or the listener closed
	conns   map[*limitedConn]struct{}
	seq     uint64 // orders idle connections, oldest first
	closed  bool
	evicted int
}

func limitConns(l net.Listener, max int) *connLimiter {
	cl := &connLimiter{Listener: l, max: max, conns: map[*limitedConn]struct{}{}}
	cl.changed = sync.NewCond(&cl.mu)
	return cl
}

// limitedConn is a held connection.
type limitedConn struct {
	net.Conn
	l     *connLimiter
	state http.ConnState // StateNew, StateActive or StateIdle
	since uint64         // when it entered state, in l.seq
	once  sync.Once
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c) })
	return err
}

func (l *connLimiter) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	for len(l.conns) >= l.max && !l.closed {
		if v := l.victimLocked(); v != nil {
			delete(l.conns, v)
			l.evicted++
			// The server's goroutine for v sees its read fail and closes
			// the wrapper; closing the socket here frees the slot now.
			_ = v.Conn.Close()
			continue
		}
		l.changed.Wait()
	}
	if l.closed {
		l.mu.Unlock()
		_ = nc.Close()
		return nil, net.ErrClosed
	}
	l.seq++
	c := &limitedConn{Conn: nc, l: l, state: http.StateNew, since: l.seq}
	l.conns[c] = struct{}{}
	l.mu.Unlock()
	return c, nil
}

// victimLocked picks the connection to close for a new one: an idle
// keep-alive first (its client reconnects at no cost), then one that never
// finished a request, oldest first; nil when all are busy.
func (l *connLimiter) victimLocked() *limitedConn {
	var idle, fresh *limitedConn
	for c := range l.conns {
		switch c.state {
		case http.StateIdle:
			if idle == nil || c.since < idle.since {
				idle = c
			}
		case http.StateNew:
			if fresh == nil || c.since < fresh.since {
				fresh = c
			}
		}
	}
	if idle != nil {
		return idle
	}
	return fresh
}

func (l *connLimiter) release(c *limitedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.changed.Broadcast()
	l.mu.Unlock()
}

// connState is the server's ConnState hook: it tells the limiter which
// connections are between requests.
func (l *connLimiter) connState(nc net.Conn, s http.ConnState) {
	c, ok := nc.(*limitedConn)
	if !ok {
		return
	}
	switch s {
	case http.StateActive:
		l.mu.Lock()
		c.state = s
		l.mu.Unlock()
	case http.StateIdle:
		l.mu.Lock()
		l.seq++
		c.state, c.since = s, l.seq
		l.changed.Broadcast()
		l.mu.Unlock()
	case http.StateHijacked:
		// Whoever took it over owns it; it no longer counts here.
		c.once.Do(func() { l.release(c) })
	}
}

func (l *connLimiter) Close() error {
	l.mu.Lock()
	l.closed = true
	l.changed.Broadcast()
	l.mu.Unlock()
	return l.Listener.Close()
}

// held and evictions are for tests and diagnostics.
func (l *connLimiter) held() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

func (l *connLimiter) evictions() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.evicted
}

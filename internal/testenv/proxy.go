package testenv

import (
	"bytes"
	"net"
	"sync"
	"testing"
)

// Proxy is a TCP proxy on a loopback port in front of a server, for fault
// tests: it forwards, stalls (connections stay open and bytes are held, as
// when a network path or a server hangs), or refuses (nothing listens, and
// open connections are cut). Build one with StartProxy; the test's end
// closes it. Its methods are safe for concurrent use.
type Proxy struct {
	addr, target string

	mu      sync.Mutex
	changed *sync.Cond // broadcast when state changes
	state   proxyState
	ln      net.Listener // nil while refusing
	conns   map[net.Conn]struct{}
	// trigger, when set, stalls the proxy once a client sends bytes
	// holding it (lower case), after forwarding them.
	trigger []byte
	wg      sync.WaitGroup
}

type proxyState int

const (
	forwarding proxyState = iota
	stalled
	refusing
	closed
)

// StartProxy starts a proxy on a free loopback port that forwards to target
// (host:port).
func StartProxy(t testing.TB, target string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Proxy{addr: ln.Addr().String(), target: target, conns: map[net.Conn]struct{}{}}
	p.changed = sync.NewCond(&p.mu)
	p.listen(ln)
	t.Cleanup(p.close)
	return p
}

// Addr is the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// Forward makes the proxy forward again: held bytes flow on, and after
// Refuse it listens again on the same port.
func (p *Proxy) Forward() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == refusing {
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return err
		}
		p.listen(ln)
	}
	p.trigger = nil
	p.set(forwarding)
	return nil
}

// Stall stops forwarding: connections stay open, new ones are accepted, and
// no byte goes through in either direction until Forward.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.set(stalled)
}

// StallOn makes the proxy stall as soon as a client sends bytes that hold
// pattern (compared without case; it must fit in one read, such as one
// short statement), right after forwarding them to the server: the server
// acts on them, and its answer is held. It models a connection lost after
// a COMMIT was sent and before its result came back.
func (p *Proxy) StallOn(pattern string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.trigger = bytes.ToLower([]byte(pattern))
}

// Refuse closes the listening socket, so connections are refused, and cuts
// every open connection.
func (p *Proxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == refusing || p.state == closed {
		return
	}
	p.ln.Close()
	p.ln = nil
	for c := range p.conns {
		c.Close()
	}
	p.set(refusing)
}

func (p *Proxy) close() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
	}
	for c := range p.conns {
		c.Close()
	}
	p.set(closed)
	p.mu.Unlock()
	p.wg.Wait()
}

// set changes the state; p.mu is held.
func (p *Proxy) set(s proxyState) {
	if p.state != closed {
		p.state = s
	}
	p.changed.Broadcast()
}

// listen accepts on ln until it is closed; p.mu is held or p is new.
func (p *Proxy) listen(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Go(func() { p.serve(c) })
		}
	})
}

// serve connects client to the target and copies both ways.
func (p *Proxy) serve(client net.Conn) {
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	if !p.pass() {
		return
	}
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(server) {
		return
	}
	defer p.untrack(server)
	done := make(chan struct{}, 2)
	go func() { p.copy(server, client, true); done <- struct{}{} }()
	go func() { p.copy(client, server, false); done <- struct{}{} }()
	<-done // one side ended: end both
	client.Close()
	server.Close()
	<-done
}

// copy moves bytes from src to dst, holding them while stalled.
func (p *Proxy) copy(dst, src net.Conn, fromClient bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.pass() {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			if fromClient {
				p.check(buf[:n])
			}
		}
		if err != nil {
			return
		}
	}
}

// check stalls the proxy if b holds the StallOn pattern.
func (p *Proxy) check(b []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trigger != nil && bytes.Contains(bytes.ToLower(b), p.trigger) {
		p.trigger = nil
		p.set(stalled)
	}
}

// pass waits while the proxy stalls; it reports false once the
// connection should end (refusing or closed).
func (p *Proxy) pass() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.state == stalled {
		p.changed.Wait()
	}
	return p.state == forwarding
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.state == refusing || p.state == closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	c.Close()
}

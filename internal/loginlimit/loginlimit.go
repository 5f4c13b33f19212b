// Package loginlimit limits failed logins per client address: after Max
// failures within Window an address is refused until its window ends, so
// that a password cannot be guessed at the rate requests can be sent,
// while the right password still works from every other address.
//
// Addresses are counted by network: an IPv4 address alone, an IPv6 address
// by its /64, which one client usually holds whole. The table of addresses
// is bounded: once it holds Addresses live entries, the failures of
// addresses not in it are counted together in one shared entry, so memory
// stays bounded and so does the rate of guesses from many addresses
// (Addresses+1 times Max per Window); only during such an attack can the
// right password be refused from an address not seen before.
package loginlimit

import (
	"cmp"
	"net/netip"
	"sync"
	"time"
)

// Defaults of Options.
const (
	DefaultMax       = 5
	DefaultWindow    = time.Minute
	DefaultAddresses = 1024
)

// Options configure New; the zero value gives the defaults.
type Options struct {
	// Max is how many failures an address may have within Window.
	Max int
	// Window is how long an address's failures are remembered, from its
	// first one.
	Window time.Duration
	// Addresses bounds the addresses tracked apart.
	Addresses int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Limiter counts failures by address. It is safe for concurrent use.
type Limiter struct {
	opts Options

	mu      sync.Mutex
	entries map[netip.Prefix]*entry
	shared  entry // the addresses the table has no room for
	// sweepAt is the earliest end of an entry's window: before it, a full
	// table has nothing to sweep.
	sweepAt time.Time
}

// entry is one address's failures since start.
type entry struct {
	failures int
	start    time.Time
}

// New returns a Limiter.
func New(opts Options) *Limiter {
	opts.Max = cmp.Or(opts.Max, DefaultMax)
	opts.Window = cmp.Or(opts.Window, DefaultWindow)
	opts.Addresses = cmp.Or(opts.Addresses, DefaultAddresses)
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Limiter{opts: opts, entries: map[netip.Prefix]*entry{}}
}

// key is the network addr is counted under.
func key(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// Wait reports how long addr must wait before a login is tried again: 0
// when it may be tried now, or else until its failures' window ends.
func (l *Limiter) Wait(addr netip.Addr) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	e := l.find(key(addr), now)
	if e == nil || e.failures < l.opts.Max {
		return 0
	}
	return e.start.Add(l.opts.Window).Sub(now)
}

// Fail counts a failed login from addr.
func (l *Limiter) Fail(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	k := key(addr)
	e := l.find(k, now)
	if e == nil {
		e = &entry{start: now}
		l.entries[k] = e
		if end := now.Add(l.opts.Window); l.sweepAt.IsZero() || end.Before(l.sweepAt) {
			l.sweepAt = end
		}
	}
	e.failures++
}

// Succeed forgets addr's failures after a successful login.
func (l *Limiter) Succeed(addr netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.entries, key(addr))
}

// find returns k's entry in its window: its own, the shared one when the
// table has no room for it, or nil when it has none and there is room.
// Ended windows are forgotten.
func (l *Limiter) find(k netip.Prefix, now time.Time) *entry {
	if e, ok := l.entries[k]; ok {
		if now.Before(e.start.Add(l.opts.Window)) {
			return e
		}
		delete(l.entries, k)
	}
	if len(l.entries) >= l.opts.Addresses {
		l.sweep(now)
	}
	if len(l.entries) < l.opts.Addresses {
		return nil
	}
	if !now.Before(l.shared.start.Add(l.opts.Window)) {
		l.shared = entry{start: now}
	}
	return &l.shared
}

// sweep forgets the entries whose window has ended, when one may have.
func (l *Limiter) sweep(now time.Time) {
	if now.Before(l.sweepAt) {
		return
	}
	l.sweepAt = time.Time{}
	for k, e := range l.entries {
		end := e.start.Add(l.opts.Window)
		switch {
		case !now.Before(end):
			delete(l.entries, k)
		case l.sweepAt.IsZero() || end.Before(l.sweepAt):
			l.sweepAt = end
		}
	}
}

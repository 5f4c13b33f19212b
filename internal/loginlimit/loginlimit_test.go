package loginlimit

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache/cachetest"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestLimit: an address is refused after Max failures until its window
// ends, others are not; a success forgets; an IPv6 /64 counts as one.
func TestLimit(t *testing.T) {
	clock := cachetest.NewClock()
	l := New(Options{Now: clock.Now})
	a, b := addr("192.0.2.1"), addr("198.51.100.7")
	for i := range DefaultMax {
		if w := l.Wait(a); w != 0 {
			t.Fatalf("refused after %d failures (want %d allowed): wait %v", i, DefaultMax, w)
		}
		l.Fail(a)
		clock.Advance(time.Second)
	}
	if w := l.Wait(a); w != DefaultWindow-DefaultMax*time.Second {
		t.Errorf("after %d failures: wait %v, want until the window ends, %v", DefaultMax, w, DefaultWindow-DefaultMax*time.Second)
	}
	if w := l.Wait(addr("::ffff:192.0.2.1")); w == 0 {
		t.Error("the IPv4-mapped form of a refused address is let through")
	}
	if w := l.Wait(b); w != 0 {
		t.Errorf("another address must wait %v", w)
	}
	clock.Advance(DefaultWindow)
	if w := l.Wait(a); w != 0 {
		t.Errorf("after the window: wait %v", w)
	}

	for range DefaultMax - 1 {
		l.Fail(b)
	}
	l.Succeed(b)
	l.Fail(b)
	if w := l.Wait(b); w != 0 {
		t.Errorf("a success did not forget the failures before it: wait %v", w)
	}

	for range DefaultMax {
		l.Fail(addr("2001:db8:1:2::1"))
	}
	if l.Wait(addr("2001:db8:1:2:ffff::9")) == 0 {
		t.Error("another address of the same IPv6 /64 is let through")
	}
	if w := l.Wait(addr("2001:db8:1:3::1")); w != 0 {
		t.Errorf("another /64 must wait %v", w)
	}
}

// TestBounded: however many addresses fail, the table holds at most
// Addresses of them; the others share one entry, so guesses from many
// addresses are bounded too; once windows end, room is made again.
func TestBounded(t *testing.T) {
	clock := cachetest.NewClock()
	l := New(Options{Addresses: 100, Now: clock.Now})
	allowed := 0
	for i := range 10_000 {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		for range DefaultMax + 1 {
			if l.Wait(a) == 0 {
				allowed++
				l.Fail(a)
			}
		}
	}
	if n := len(l.entries); n > 100 {
		t.Errorf("%d addresses tracked, want at most 100", n)
	}
	if want := (100 + 1) * DefaultMax; allowed != want {
		t.Errorf("%d guesses allowed from 10,000 addresses in one window, want %d", allowed, want)
	}
	clock.Advance(DefaultWindow)
	fresh := addr("203.0.113.1")
	if w := l.Wait(fresh); w != 0 {
		t.Errorf("a new address after the window: wait %v", w)
	}
	l.Fail(fresh)
	if _, ok := l.entries[key(fresh)]; !ok || len(l.entries) != 1 {
		t.Errorf("after the window: %d entries, the new address tracked: %v; want the old ones swept", len(l.entries), ok)
	}
}

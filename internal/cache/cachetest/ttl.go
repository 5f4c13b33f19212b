package cachetest

import (
	"testing"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
)

const (
	// shortTTL is the TTL the expiry tests use: two seconds, so that an
	// item in memcached, whose clock ticks once a second, lives more than
	// one second and a read right after the write is a hit.
	shortTTL = 2 * time.Second
	// slack is how long past a TTL a sleeping test waits before it expects
	// the item gone, covering memcached's coarse clock.
	slack = 500 * time.Millisecond
)

func testTTL(t *testing.T, newBackend func(t *testing.T) cache.Backend, newWithClock func(t *testing.T, now func() time.Time) cache.Backend) {
	long := cache.MaxTTL + 24*time.Hour
	tests := []struct {
		name  string
		ttl   time.Duration // of the Set that stores "1"
		then  func(t *testing.T, b cache.Backend, key string)
		value string        // the value afterwards
		life  time.Duration // how long it lives from then on; 0 is forever
	}{
		{name: "positive TTL expires", ttl: shortTTL, value: "1", life: shortTTL},
		{name: "1ns rounds up to 1s", ttl: time.Nanosecond, value: "1", life: time.Second},
		{name: "1.5s rounds up to 2s", ttl: 1500 * time.Millisecond, value: "1", life: 2 * time.Second},
		{name: "zero TTL never expires", ttl: 0, value: "1"},
		{name: "TTL over 30 days is relative", ttl: long, value: "1", life: long},
		{
			name: "Set replaces the TTL", ttl: shortTTL, value: "2",
			then: func(t *testing.T, b cache.Backend, key string) { set(t, b, key, "2", 0) },
		},
	}
	// Every case writes first, then all wait together, so that a suite on
	// real time sleeps once whatever the -parallel limit.
	runs := make([]ttlRun, len(tests))
	for i, tt := range tests {
		r := ttlRun{key: prefix() + "k", value: tt.value, life: tt.life}
		if newWithClock != nil { // the backend lives as long as t
			r.clock = NewClock()
			r.b = newWithClock(t, r.clock.Now)
		} else {
			r.b = newBackend(t)
		}
		t.Run("write "+tt.name, func(t *testing.T) {
			set(t, r.b, r.key, "1", tt.ttl)
			// memcached's clock ticks once a second: an item with a TTL under
			// two seconds may already be gone at the next tick, however soon.
			// Its expiry is checked below all the same.
			if newWithClock != nil || tt.ttl == 0 || tt.ttl >= shortTTL {
				wantValue(t, r.b, r.key, ptr("1"))
			}
			if tt.then != nil {
				tt.then(t, r.b, r.key)
			}
			runs[i] = r
		})
	}
	if newWithClock == nil {
		time.Sleep(shortTTL + slack)
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if runs[i].b == nil {
				t.Skip("the write failed")
			}
			runs[i].check(t)
		})
	}
}

// ttlRun is one TTL case after its writes.
type ttlRun struct {
	b     cache.Backend
	clock *Clock // nil: real time, and shortTTL+slack has passed
	key   string
	value string        // the value the key holds while it lives
	life  time.Duration // how long it lives after the writes; 0 is forever
}

// check checks that the key is gone once its life has passed, and that an
// Add may then store it again. On a manual clock it moves the clock and also
// checks that the key is still there just before.
func (r ttlRun) check(t *testing.T) {
	switch {
	case r.life == 0:
		if r.clock != nil {
			r.clock.Advance(1000 * time.Hour)
		}
		wantValue(t, r.b, r.key, &r.value)
		return
	case r.clock != nil:
		r.clock.Advance(r.life - time.Millisecond)
		wantValue(t, r.b, r.key, &r.value)
		r.clock.Advance(2 * time.Millisecond)
	case r.life > shortTTL:
		t.Logf("not waiting %v in real time; checking only that the item is still there", r.life)
		wantValue(t, r.b, r.key, &r.value)
		return
	}
	wantValue(t, r.b, r.key, nil)
	err := r.b.Add(t.Context(), cache.Item{Key: r.key, Value: []byte("again")})
	checkErr(t, "Add after expiry", err, nil)
	wantValue(t, r.b, r.key, ptr("again"))
}

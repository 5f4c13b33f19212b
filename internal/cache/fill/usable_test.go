package fill

import (
	"bytes"
	"testing"
	"time"
)

// TestUsable: a value read from the cache is served only when it is a whole
// value frame within Spec.MaxStale, and then as it was stored — never a
// lease, an unreadable value or one past MaxStale. Every read a Group makes
// (a request's own, the one a caller gives Resolve, a flight's look at a
// lease) decides by it. Fails if a lease or a stale value is served, or if
// a value is dropped at exactly MaxStale.
func TestUsable(t *testing.T) {
	t0 := time.Date(2030, time.January, 2, 3, 4, 5, 6, time.UTC)
	const maxStale = 10 * time.Second
	data := []byte("the task list")
	type test struct {
		name     string
		v        []byte
		maxStale time.Duration
		age      time.Duration // of the value when it is read
		want     bool
	}
	tests := []test{
		{"value, no MaxStale", encode(data, t0), 0, time.Hour, true},
		{"value within MaxStale", encode(data, t0), maxStale, maxStale - 1, true},
		{"value exactly MaxStale old", encode(data, t0), maxStale, maxStale, true},
		{"value past MaxStale", encode(data, t0), maxStale, maxStale + 1, false},
		{"lease", leaseValue, 0, 0, false},
		{"lease under MaxStale", leaseValue, maxStale, 0, false},
	}
	for _, c := range corrupt {
		tests = append(tests, test{"unreadable: " + c.name, c.b, 0, 0, false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := New(nil, Options{Now: func() time.Time { return t0.Add(tt.age) }})
			r, ok := g.usable(Spec{Key: "k", MaxStale: tt.maxStale}, tt.v)
			if ok != tt.want {
				t.Fatalf("usable = %+v, %v; want %v", r, ok, tt.want)
			}
			if ok && (!bytes.Equal(r.Data, data) || !r.ReadAt.Equal(t0) || r.Outcome != Hit) {
				t.Errorf("usable = %q read at %v (%v), want %q read at %v (hit)", r.Data, r.ReadAt, r.Outcome, data, t0)
			}
		})
	}
}

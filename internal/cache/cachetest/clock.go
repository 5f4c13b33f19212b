package cachetest

import (
	"sync"
	"time"
)

// Clock is a manual clock for backends and wrappers with an injectable
// clock: time stands still until Advance moves it. It is safe for concurrent
// use.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to a fixed instant, so tests do not depend on
// the real date.
func NewClock() *Clock {
	return &Clock{now: time.Date(2030, time.January, 1, 0, 0, 0, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

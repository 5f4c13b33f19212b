package stats

import (
	"sync"
	"time"
)

// History keeps the total hits and misses of the last Len samples, so that
// their rates can be charted. It is safe for concurrent use.
type History struct {
	mu      sync.Mutex
	samples []sample // a ring: next is the oldest once full
	next    int
	full    bool
}

type sample struct {
	at           time.Time
	hits, misses uint64
}

// Rate is the hits and misses per second between two samples, at the time
// of the later one.
type Rate struct {
	At     time.Time `json:"at"`
	Hits   float64   `json:"hits_per_second"`
	Misses float64   `json:"misses_per_second"`
}

// NewHistory returns a History that keeps n samples (at least 2).
func NewHistory(n int) *History {
	return &History{samples: make([]sample, max(n, 2))}
}

// Record adds the totals c as they were at at. Samples must be recorded in
// time order; one not later than the last is dropped.
func (h *History) Record(at time.Time, c Counts) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if last, ok := h.last(); ok && !at.After(last.at) {
		return
	}
	h.samples[h.next] = sample{at: at, hits: c.Hits, misses: c.Misses}
	h.next = (h.next + 1) % len(h.samples)
	h.full = h.full || h.next == 0
}

func (h *History) last() (sample, bool) {
	if !h.full && h.next == 0 {
		return sample{}, false
	}
	return h.samples[(h.next+len(h.samples)-1)%len(h.samples)], true
}

// Rates returns the rate between each pair of consecutive samples, oldest
// first: one fewer than the samples kept.
func (h *History) Rates() []Rate {
	h.mu.Lock()
	defer h.mu.Unlock()
	var ordered []sample
	if h.full {
		ordered = append(ordered, h.samples[h.next:]...)
	}
	ordered = append(ordered, h.samples[:h.next]...)
	if len(ordered) < 2 {
		return nil
	}
	rates := make([]Rate, 0, len(ordered)-1)
	for i := 1; i < len(ordered); i++ {
		a, b := ordered[i-1], ordered[i]
		secs := b.at.Sub(a.at).Seconds()
		rates = append(rates, Rate{At: b.at, Hits: perSecond(a.hits, b.hits, secs), Misses: perSecond(a.misses, b.misses, secs)})
	}
	return rates
}

// perSecond is the rise from a to b over secs seconds; a counter that went
// back (it cannot, but a sum of layers may be read mid-update) is 0.
func perSecond(a, b uint64, secs float64) float64 {
	if b < a {
		return 0
	}
	return float64(b-a) / secs
}

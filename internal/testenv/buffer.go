package testenv

import (
	"bytes"
	"sync"
)

// LockedBuffer is a bytes.Buffer that a server's (or a browser's) goroutines
// and the test may use at the same time, to collect logs. Safe for
// concurrent use; the zero value is ready.
type LockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write appends p.
func (b *LockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *LockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

package fill

import (
	"encoding/binary"
	"time"
)

// Every value a Group stores is framed, so that a lease and a value can be
// told apart whatever the value's bytes, and so that a value stored by a
// build with another framing is recognised as foreign rather than misread:
//
//	'l'                       a lease: someone is loading the value
//	'v' readAt(8 bytes) data  a value: readAt is when the load that produced
//	                          it began (Unix ns, big-endian); data is the
//	                          loader's bytes, as they were
//
// Anything else, including a value of another framing, is unreadable: the
// Group treats it as a miss and takes the key over (see load).
const (
	frameLease = 'l'
	frameValue = 'v'
	headerLen  = 1 + 8
)

// Overhead is how many bytes the framing adds to a value: a value of more
// than the cache's MaxItemSize less Overhead cannot be stored.
const Overhead = headerLen

var leaseValue = []byte{frameLease}

// frame is a decoded cache value.
type frame struct {
	lease  bool
	readAt time.Time
	data   []byte // aliases the cache value
}

func encode(data []byte, readAt time.Time) []byte {
	b := make([]byte, headerLen, headerLen+len(data))
	b[0] = frameValue
	binary.BigEndian.PutUint64(b[1:], uint64(readAt.UnixNano()))
	return append(b, data...)
}

// decode reads a cache value; ok is false for an unreadable one.
func decode(b []byte) (f frame, ok bool) {
	switch {
	case len(b) == 1 && b[0] == frameLease:
		return frame{lease: true}, true
	case len(b) >= headerLen && b[0] == frameValue:
		return frame{readAt: time.Unix(0, int64(binary.BigEndian.Uint64(b[1:]))), data: b[headerLen:]}, true
	}
	return frame{}, false
}

// Stored returns the data of b, a cache value a Group stored, for a caller
// that checks what the cache holds without filling it (see taskcache's
// periodic check); ok is false for a lease or an unreadable value. data
// aliases b.
func Stored(b []byte) (data []byte, ok bool) {
	f, ok := decode(b)
	if !ok || f.lease {
		return nil, false
	}
	return f.data, true
}

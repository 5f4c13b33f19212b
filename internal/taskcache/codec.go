package taskcache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
)

// Cached entries are one of two kinds, told apart by their first byte:
//
//	'L'  a lease: someone is reading the list from the database and will
//	     replace the lease with the list (by compare-and-swap) when done.
//	'T'  a list: uvarint revision, varint read-start (Unix ns), uvarint
//	     count, then per task uvarint id, uvarint name length, name bytes,
//	     one byte done, varint created and updated (Unix µs).
//
// The encoding is about a third of JSON's size and needs no reflection.
const (
	kindLease = 'L'
	kindList  = 'T'
)

var errCorrupt = errors.New("taskcache: corrupt cache entry")

// minTaskBytes is the fewest bytes an encoded task takes: five one-byte
// fields (id, name length, done, created, updated) and an empty name.
const minTaskBytes = 5

// entry is a decoded cache value.
type entry struct {
	lease bool
	// readAt is when the database read that produced snap began: the list
	// reflects every write committed before it.
	readAt time.Time
	snap   tasks.Snapshot
}

var leaseValue = []byte{kindLease}

func encodeList(snap tasks.Snapshot, readAt time.Time) []byte {
	size := 1 + 3*binary.MaxVarintLen64
	for _, t := range snap.Tasks {
		size += 4*binary.MaxVarintLen64 + len(t.Name) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, kindList)
	b = binary.AppendUvarint(b, uint64(snap.Revision))
	b = binary.AppendVarint(b, readAt.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(snap.Tasks)))
	for _, t := range snap.Tasks {
		b = binary.AppendUvarint(b, uint64(t.ID))
		b = binary.AppendUvarint(b, uint64(len(t.Name)))
		b = append(b, t.Name...)
		done := byte(0)
		if t.Done {
			done = 1
		}
		b = append(b, done)
		b = binary.AppendVarint(b, t.CreatedAt.UnixMicro())
		b = binary.AppendVarint(b, t.UpdatedAt.UnixMicro())
	}
	return b
}

func decode(b []byte) (entry, error) {
	if len(b) == 1 && b[0] == kindLease {
		return entry{lease: true}, nil
	}
	if len(b) == 0 || b[0] != kindList {
		return entry{}, errCorrupt
	}
	d := decoder{b: b[1:]}
	var e entry
	e.snap.Revision = int64(d.uvarint())
	e.readAt = time.Unix(0, d.varint())
	n := d.uvarint()
	if n > uint64(len(d.b))/minTaskBytes { // bound the allocation by the input
		return entry{}, errCorrupt
	}
	e.snap.Tasks = make([]tasks.Task, 0, n)
	for range n {
		var t tasks.Task
		t.ID = int64(d.uvarint())
		t.Name = string(d.bytes(d.uvarint()))
		t.Done = d.byte() == 1
		t.CreatedAt = time.UnixMicro(d.varint()).UTC()
		t.UpdatedAt = time.UnixMicro(d.varint()).UTC()
		e.snap.Tasks = append(e.snap.Tasks, t)
	}
	if d.bad || len(d.b) != 0 {
		return entry{}, errCorrupt
	}
	return e, nil
}

// decoder reads varints and bytes, remembering whether it ran out.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte() byte {
	if v := d.bytes(1); v != nil {
		return v[0]
	}
	return 0
}

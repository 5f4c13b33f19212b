package taskcache

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/tasks"
)

// A cached list is encoded as the byte 'U' (the format: a build that
// changes the encoding changes it), then uvarint identity length, the
// database's identity, uvarint revision, uvarint count,
// then per task uvarint id, uvarint name length, name bytes, one byte done,
// varint created and updated (Unix µs). It is about a third of JSON's size
// and needs no reflection. The fill package frames it (see fill).
const formatList = 'U'

var errCorrupt = errors.New("taskcache: corrupt cache entry")

// minTaskBytes is the fewest bytes an encoded task takes: five one-byte
// fields (id, name length, done, created, updated) and an empty name.
const minTaskBytes = 5

func encodeList(snap tasks.Snapshot) []byte {
	size := 1 + 3*binary.MaxVarintLen64 + len(snap.DB)
	for _, t := range snap.Tasks {
		size += 4*binary.MaxVarintLen64 + len(t.Name) + 1
	}
	b := make([]byte, 0, size)
	b = append(b, formatList)
	b = binary.AppendUvarint(b, uint64(len(snap.DB)))
	b = append(b, snap.DB...)
	b = binary.AppendUvarint(b, uint64(snap.Revision))
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

func decodeList(b []byte) (tasks.Snapshot, error) {
	if len(b) == 0 || b[0] != formatList {
		return tasks.Snapshot{}, errCorrupt
	}
	d := decoder{b: b[1:]}
	var snap tasks.Snapshot
	snap.DB = string(d.bytes(d.uvarint()))
	snap.Revision = int64(d.uvarint())
	n := d.uvarint()
	if n > uint64(len(d.b))/minTaskBytes { // bound the allocation by the input
		return tasks.Snapshot{}, errCorrupt
	}
	snap.Tasks = make([]tasks.Task, 0, n)
	for range n {
		var t tasks.Task
		t.ID = int64(d.uvarint())
		t.Name = string(d.bytes(d.uvarint()))
		t.Done = d.byte() == 1
		t.CreatedAt = time.UnixMicro(d.varint()).UTC()
		t.UpdatedAt = time.UnixMicro(d.varint()).UTC()
		snap.Tasks = append(snap.Tasks, t)
	}
	if d.bad || len(d.b) != 0 {
		return tasks.Snapshot{}, errCorrupt
	}
	return snap, nil
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

package taskcache

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tasklist/tasklist/internal/tasks"
)

func TestCodecRoundTrip(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 0, 0, 123456000, time.UTC)
	for _, snap := range []tasks.Snapshot{
		{Revision: 0, Tasks: []tasks.Task{}},
		{Revision: 1 << 40, Tasks: []tasks.Task{
			{ID: 1, Name: "milk", CreatedAt: at, UpdatedAt: at},
			{ID: 1 << 50, Name: "<b>ünïcödé</b> 🎉", Done: true, CreatedAt: at, UpdatedAt: at.Add(time.Hour)},
		}},
	} {
		e, err := decode(encodeList(snap, at))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(snap, e.snap); diff != "" || e.lease || !e.readAt.Equal(at) {
			t.Errorf("round trip (-want +got):\n%s (lease %v, readAt %v)", diff, e.lease, e.readAt)
		}
	}
	if e, err := decode(leaseValue); err != nil || !e.lease {
		t.Errorf("decode(lease) = %+v, %v", e, err)
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	valid := encodeList(tasks.Snapshot{Revision: 3, Tasks: []tasks.Task{{ID: 7, Name: "x"}}}, time.Unix(0, 0))
	huge := binary.AppendUvarint([]byte{kindList, 1, 0}, 1<<60) // claims 2^60 tasks
	for name, b := range map[string][]byte{
		"empty":         {},
		"unknown kind":  {'X', 1},
		"truncated":     valid[:len(valid)-1],
		"trailing byte": append(append([]byte{}, valid...), 0),
		"huge count":    huge,
		"lease+junk":    {kindLease, 0},
	} {
		if _, err := decode(b); err == nil {
			t.Errorf("decode(%s) succeeded", name)
		}
	}
}

// FuzzDecode: no input panics, and a decoded list encodes back to itself.
func FuzzDecode(f *testing.F) {
	f.Add(encodeList(tasks.Snapshot{Revision: 2, Tasks: []tasks.Task{{ID: 1, Name: "a"}}}, time.Unix(5, 0)))
	f.Add([]byte{kindList, 0, 0, 0})
	f.Add(leaseValue)
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decode(b)
		if err != nil || e.lease {
			return
		}
		again, err := decode(encodeList(e.snap, e.readAt))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(e.snap, again.snap); diff != "" {
			t.Errorf("re-encode changed the list (-first +second):\n%s", diff)
		}
	})
}

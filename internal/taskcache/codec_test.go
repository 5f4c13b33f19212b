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
		got, err := decodeList(encodeList(snap))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(snap, got); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	}
}

func TestDecodeRejectsCorruptInput(t *testing.T) {
	valid := encodeList(tasks.Snapshot{Revision: 3, Tasks: []tasks.Task{{ID: 7, Name: "x"}}})
	huge := binary.AppendUvarint([]byte{formatList, 1}, 1<<60) // claims 2^60 tasks
	for name, b := range map[string][]byte{
		"empty":         {},
		"unknown kind":  {'X', 1},
		"truncated":     valid[:len(valid)-1],
		"trailing byte": append(append([]byte{}, valid...), 0),
		"huge count":    huge,
		"old format":    {'L'},
	} {
		if _, err := decodeList(b); err == nil {
			t.Errorf("decode(%s) succeeded", name)
		}
	}
}

// FuzzDecode: no input panics, and a decoded list encodes back to itself.
func FuzzDecode(f *testing.F) {
	f.Add(encodeList(tasks.Snapshot{Revision: 2, Tasks: []tasks.Task{{ID: 1, Name: "a"}}}))
	f.Add([]byte{formatList, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		first, err := decodeList(b)
		if err != nil {
			return
		}
		again, err := decodeList(encodeList(first))
		if err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if diff := cmp.Diff(first, again); diff != "" {
			t.Errorf("re-encode changed the list (-first +second):\n%s", diff)
		}
	})
}

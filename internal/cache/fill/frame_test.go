package fill

import (
	"bytes"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFrameRoundTrip: a value decodes to the bytes and read time it was
// encoded with, whatever its bytes (including ones that look like a frame),
// its frame adds Overhead bytes, and a lease decodes as a lease.
func TestFrameRoundTrip(t *testing.T) {
	at := time.Date(2030, time.January, 2, 3, 4, 5, 6, time.UTC)
	tests := []struct {
		name   string
		data   []byte
		readAt time.Time
	}{
		{"empty", []byte{}, at},
		{"text", []byte("the task list"), at},
		{"a lease byte", []byte{frameLease}, at},
		{"a value frame", encode([]byte("inner"), at), at},
		{"binary", []byte{0, 0xff, '\n', 'l', 'v'}, at},
		{"before 1970", []byte("x"), time.Date(1960, time.June, 1, 0, 0, 0, 1, time.UTC)},
		{"the epoch", []byte("x"), time.Unix(0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := encode(tt.data, tt.readAt)
			if n := len(b) - len(tt.data); n != Overhead {
				t.Errorf("the frame adds %d bytes, Overhead says %d", n, Overhead)
			}
			f, ok := decode(b)
			if !ok || f.lease {
				t.Fatalf("decode = %+v, %v; want a value", f, ok)
			}
			if !bytes.Equal(f.data, tt.data) || !f.readAt.Equal(tt.readAt) {
				t.Errorf("decode = %q at %v, want %q at %v", f.data, f.readAt, tt.data, tt.readAt)
			}
		})
	}
	if f, ok := decode(leaseValue); !ok || !f.lease {
		t.Errorf("decode(lease) = %+v, %v; want a lease", f, ok)
	}
}

// corrupt are inputs decode must reject.
var corrupt = []struct {
	name string
	b    []byte
}{
	{"nil", nil},
	{"empty", []byte{}},
	{"lease byte and more", []byte("lx")},
	{"value byte alone", []byte("v")},
	{"value header cut short", []byte("v\x00\x00\x00\x00\x00\x00\x00")},
	{"upper-case lease of the old list framing", []byte("L")},
	{"old list framing", []byte("T\x05\x80\x80\x01\x00")},
	{"decimal", []byte("12")},
	{"JSON", []byte(`{"tasks":[]}`)},
}

// TestDecodeRejects: anything but a lease or a whole value frame is
// unreadable.
func TestDecodeRejects(t *testing.T) {
	for _, tt := range corrupt {
		t.Run(tt.name, func(t *testing.T) {
			if f, ok := decode(tt.b); ok {
				t.Errorf("decode(%q) = %+v, true; want unreadable", tt.b, f)
			}
		})
	}
}

// FuzzDecode: decode never panics, and whatever it reads as a frame is
// exactly what encoding that frame gives back — no two inputs decode alike,
// so nothing is misread as another value. Its seeds (the cases above) run
// with every go test.
func FuzzDecode(f *testing.F) {
	at := time.Date(2030, time.January, 2, 3, 4, 5, 6, time.UTC)
	f.Add(leaseValue)
	f.Add(encode(nil, at))
	f.Add(encode([]byte("the task list"), at))
	f.Add(encode([]byte{frameLease}, time.Unix(0, -1)))
	for _, tt := range corrupt {
		f.Add(tt.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fr, ok := decode(b)
		switch {
		case !ok:
			if fr.lease || fr.data != nil || !fr.readAt.IsZero() {
				t.Errorf("decode(%q) = %+v for an unreadable value", b, fr)
			}
		case fr.lease:
			if diff := cmp.Diff(leaseValue, b); diff != "" {
				t.Errorf("decode read a lease from something else (-lease +input):\n%s", diff)
			}
		default:
			if diff := cmp.Diff(b, encode(fr.data, fr.readAt)); diff != "" {
				t.Errorf("re-encoding what decode read differs from the input (-input +re-encoded):\n%s", diff)
			}
		}
	})
}

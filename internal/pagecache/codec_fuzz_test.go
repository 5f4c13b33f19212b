package pagecache

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"io"
	"testing"
)

// FuzzPageCodec: a cached page (its body, then the gzip of it) decodes to
// the body it was encoded from, with a gzip stream of that body; and any
// bytes decode without a panic, into parts that cover them exactly, or are
// refused.
func FuzzPageCodec(f *testing.F) {
	f.Add([]byte("<!doctype html><html><body>tasks</body></html>"))
	f.Add([]byte{})
	f.Add([]byte{'P', 0x80})
	f.Add(encodePage([]byte("a page")))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := decodePage(encodePage(data))
		if err != nil || !bytes.Equal(e.body, data) {
			t.Fatalf("decodePage(encodePage(%q)) = %v", data, err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(e.gz))
		if err != nil {
			t.Fatal(err)
		}
		if unzipped, err := io.ReadAll(zr); err != nil || !bytes.Equal(unzipped, data) {
			t.Fatalf("the gzip of %q unzips to %q, %v", data, unzipped, err)
		}

		e, err = decodePage(data)
		if err != nil {
			return
		}
		n, m := binary.Uvarint(data[1:])
		if data[0] != 'P' || m <= 0 || uint64(len(e.body)) != n || 1+m+len(e.body)+len(e.gz) != len(data) {
			t.Errorf("decodePage(%q) accepted parts of %d and %d bytes", data, len(e.body), len(e.gz))
		}
	})
}

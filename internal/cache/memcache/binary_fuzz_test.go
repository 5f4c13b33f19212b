package memcache

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"slices"
	"testing"
	"time"
)

// responseBytes encodes a binary-protocol response, as a server sends it.
func responseBytes(op opcode, st status, opaque uint32, cas uint64, extras, key, value []byte) []byte {
	h := make([]byte, headerLen, headerLen+len(extras)+len(key)+len(value))
	h[0] = magicResponse
	h[1] = byte(op)
	binary.BigEndian.PutUint16(h[2:], uint16(len(key)))
	h[4] = byte(len(extras))
	binary.BigEndian.PutUint16(h[6:], uint16(st))
	binary.BigEndian.PutUint32(h[8:], uint32(len(extras)+len(key)+len(value)))
	binary.BigEndian.PutUint32(h[12:], opaque)
	binary.BigEndian.PutUint64(h[16:], cas)
	return append(append(append(h, extras...), key...), value...)
}

// FuzzReceive: the binary-protocol response parser reads any bytes without
// a panic, and a response it accepts is exactly the header and the body
// the header announces, split into extras, key and value as announced; it
// reads no further, so the next response starts where it stopped.
func FuzzReceive(f *testing.F) {
	f.Add(responseBytes(opGetKQ, statusOK, 1, 42, []byte{0, 0, 0, 0}, []byte("tasks:all"), []byte("value")))
	f.Add(responseBytes(opNoop, statusOK, 3, 0, nil, nil, nil))
	f.Add(responseBytes(opSASLAuth, statusAuthError, 0, 0, nil, nil, []byte("Auth failure")))
	f.Add([]byte{magicResponse, 0, 0, 200, 1})
	f.Add(bytes.Repeat([]byte{0xff}, 30))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		c := &conn{r: bufio.NewReaderSize(r, 16)}
		res, err := c.receive()
		if err != nil {
			return
		}
		keyLen := int(binary.BigEndian.Uint16(data[2:]))
		extrasLen, bodyLen := int(data[4]), int(binary.BigEndian.Uint32(data[8:]))
		if data[0] != magicResponse || len(res.extras) != extrasLen || len(res.key) != keyLen ||
			extrasLen+keyLen+len(res.value) != bodyLen || headerLen+bodyLen > len(data) {
			t.Fatalf("accepted %x as extras %x, key %q, value of %d bytes", data[:headerLen], res.extras, res.key, len(res.value))
		}
		body := data[headerLen : headerLen+bodyLen]
		if !bytes.Equal(slices.Concat(res.extras, res.key, res.value), body) || res.op != opcode(data[1]) ||
			res.status != status(binary.BigEndian.Uint16(data[6:])) || res.opaque != binary.BigEndian.Uint32(data[12:]) ||
			res.cas != binary.BigEndian.Uint64(data[16:]) {
			t.Fatalf("the fields of %x do not match the bytes", data[:headerLen+bodyLen])
		}
		if rest, _ := io.ReadAll(c.r); !bytes.Equal(rest, data[headerLen+bodyLen:]) {
			t.Fatalf("read %d bytes for a response of %d", len(data)-len(rest), headerLen+bodyLen)
		}
	})
}

// FuzzGetMulti: whatever a server answers a multi-get with (after a
// successful login), the client returns within its timeout without a
// panic, and only items of the keys it asked for, with values the server
// sent.
func FuzzGetMulti(f *testing.F) {
	f.Add(slices.Concat(
		responseBytes(opGetKQ, statusOK, 1, 7, []byte{0, 0, 0, 0}, []byte("b"), []byte("value of b")),
		responseBytes(opNoop, statusOK, 3, 0, nil, nil, nil)))
	f.Add(responseBytes(opNoop, statusOK, 3, 0, nil, nil, nil))
	f.Add(responseBytes(opGetKQ, statusOK, 9, 0, nil, nil, []byte("opaque out of range")))
	f.Add(responseBytes(opGetKQ, statusOK, 0, 0, nil, nil, nil)[:10])
	keys := []string{"a", "b", "c"}
	f.Fuzz(func(t *testing.T, answer []byte) {
		s := newBinaryServer("fuzz:11211", Options{
			Username: "u", Password: "p", Timeout: time.Second, MaxConnsPerServer: 1,
			DialContext: func(context.Context, string, string) (net.Conn, error) {
				client, server := net.Pipe()
				go func() {
					defer server.Close()
					go io.Copy(io.Discard, server) // the requests
					server.Write(responseBytes(opSASLAuth, statusOK, 0, 0, nil, nil, nil))
					server.Write(answer)
				}()
				return client, nil
			},
		})
		defer s.close()
		start := time.Now()
		items, err := s.getMulti(t.Context(), keys)
		if took := time.Since(start); took > 5*time.Second {
			t.Fatalf("getMulti took %v with a 1 s timeout", took)
		}
		for _, it := range items {
			if !slices.Contains(keys, it.Key) || !bytes.Contains(answer, it.Value) {
				t.Errorf("getMulti returned %q = %q (err %v), not from the answer", it.Key, it.Value, err)
			}
		}
	})
}

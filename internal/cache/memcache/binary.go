package memcache

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
)

// memcached's binary protocol: every request and response is a 24-byte
// header, then extras, key and value, whose lengths the header gives.
const (
	magicRequest  = 0x80
	magicResponse = 0x81
	headerLen     = 24
	maxExtrasLen  = 8 // a store's: flags, exptime
	// maxBodyLen bounds a response body far above any item memcached
	// stores by default; a longer length means the stream is out of step.
	maxBodyLen = 64 << 20
)

// opcode is a binary protocol command.
type opcode uint8

const (
	opGet      opcode = 0x00
	opSet      opcode = 0x01
	opAdd      opcode = 0x02
	opReplace  opcode = 0x03
	opDelete   opcode = 0x04
	opNoop     opcode = 0x0a
	opGetKQ    opcode = 0x0d // get, key in the response, quiet on a miss
	opStat     opcode = 0x10
	opSASLAuth opcode = 0x21
)

// status is a binary protocol response status. As an error it is a
// non-zero status the server answered with; the connection stays in step.
type status uint16

const (
	statusOK              status = 0x00
	statusNotFound        status = 0x01
	statusExists          status = 0x02
	statusTooLarge        status = 0x03
	statusInvalid         status = 0x04
	statusNotStored       status = 0x05
	statusAuthError       status = 0x20
	statusUnknownCommand  status = 0x81
	statusOutOfMemory     status = 0x82
	statusNotSupported    status = 0x83
	statusInternalError   status = 0x84
	statusBusy            status = 0x85
	statusTemporaryFailed status = 0x86
)

var statusText = map[status]string{
	statusNotFound:        "not found",
	statusExists:          "key exists",
	statusTooLarge:        "value too large",
	statusInvalid:         "invalid arguments",
	statusNotStored:       "not stored",
	statusAuthError:       "authentication error",
	statusUnknownCommand:  "unknown command",
	statusOutOfMemory:     "out of memory",
	statusNotSupported:    "not supported",
	statusInternalError:   "internal error",
	statusBusy:            "busy",
	statusTemporaryFailed: "temporary failure",
}

func (s status) Error() string {
	if t, ok := statusText[s]; ok {
		return fmt.Sprintf("server replied %s (status %#x)", t, uint16(s))
	}
	return fmt.Sprintf("server replied status %#x", uint16(s))
}

// request is one binary protocol request.
type request struct {
	op        opcode
	key       string
	extras    [maxExtrasLen]byte
	extrasLen uint8
	value     []byte
	cas       uint64
	opaque    uint32
}

// response is one binary protocol response. Its extras, key and value
// share one freshly allocated body.
type response struct {
	op     opcode
	status status
	opaque uint32
	cas    uint64
	extras []byte
	key    []byte
	value  []byte
}

// conn is a connection speaking the binary protocol. It is not safe for
// concurrent use: a pool lends it to one request at a time, and a request
// that fails to read or write a whole message closes it, so a conn in the
// pool is always in step with the server.
type conn struct {
	nc net.Conn
	r  *bufio.Reader
	w  *bufio.Writer
	// Separate header buffers, as a multi-get may write on one goroutine
	// while it reads on another.
	wbuf [headerLen + maxExtrasLen]byte
	rbuf [headerLen]byte
}

func newConn(nc net.Conn) *conn {
	return &conn{nc: nc, r: bufio.NewReaderSize(nc, 16<<10), w: bufio.NewWriterSize(nc, 16<<10)}
}

// send buffers req; flush sends what is buffered.
func (c *conn) send(req *request) error {
	h := c.wbuf[:headerLen+int(req.extrasLen)]
	h[0] = magicRequest
	h[1] = byte(req.op)
	binary.BigEndian.PutUint16(h[2:], uint16(len(req.key)))
	h[4] = req.extrasLen
	h[5] = 0                             // data type: raw bytes
	binary.BigEndian.PutUint16(h[6:], 0) // vbucket
	binary.BigEndian.PutUint32(h[8:], uint32(int(req.extrasLen)+len(req.key)+len(req.value)))
	binary.BigEndian.PutUint32(h[12:], req.opaque)
	binary.BigEndian.PutUint64(h[16:], req.cas)
	copy(h[headerLen:], req.extras[:req.extrasLen])
	if _, err := c.w.Write(h); err != nil {
		return err
	}
	if _, err := c.w.WriteString(req.key); err != nil {
		return err
	}
	_, err := c.w.Write(req.value)
	return err
}

func (c *conn) flush() error { return c.w.Flush() }

// roundTrip sends req and reads its response.
func (c *conn) roundTrip(req *request) (response, error) {
	if err := c.send(req); err != nil {
		return response{}, err
	}
	if err := c.flush(); err != nil {
		return response{}, err
	}
	res, err := c.receive()
	if err == nil && res.op != req.op {
		err = fmt.Errorf("response to opcode %#x for a request with %#x", res.op, req.op)
	}
	return res, err
}

// receive reads one response.
func (c *conn) receive() (response, error) {
	h := c.rbuf[:]
	if _, err := io.ReadFull(c.r, h); err != nil {
		return response{}, err
	}
	if h[0] != magicResponse {
		return response{}, fmt.Errorf("bad response magic %#x", h[0])
	}
	keyLen := int(binary.BigEndian.Uint16(h[2:]))
	extrasLen := int(h[4])
	bodyLen := int(binary.BigEndian.Uint32(h[8:]))
	if bodyLen > maxBodyLen || extrasLen+keyLen > bodyLen {
		return response{}, errors.New("malformed response header")
	}
	res := response{
		op:     opcode(h[1]),
		status: status(binary.BigEndian.Uint16(h[6:])),
		opaque: binary.BigEndian.Uint32(h[12:]),
		cas:    binary.BigEndian.Uint64(h[16:]),
	}
	if bodyLen > 0 {
		body := make([]byte, bodyLen)
		if _, err := io.ReadFull(c.r, body); err != nil {
			return response{}, err
		}
		res.extras = body[:extrasLen]
		res.key = body[extrasLen : extrasLen+keyLen]
		res.value = body[extrasLen+keyLen:]
	}
	return res, nil
}

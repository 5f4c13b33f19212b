package app

import (
	"context"
	"encoding/binary"
	"io"
	"net"
	"sync"
)

// saslServers returns those of addrs that require SASL authentication. A
// memcached started with -S speaks only the binary protocol, so a plain
// client's requests go unanswered and look like a server that is down;
// asked in the binary protocol which SASL mechanisms it offers, such a
// server lists them, while one without -S refuses the request. Servers that
// do not answer within ctx are not counted.
func saslServers(ctx context.Context, addrs []string) []string {
	needs := make([]bool, len(addrs))
	var wg sync.WaitGroup
	for i, addr := range addrs {
		wg.Go(func() { needs[i] = needsSASL(ctx, addr) })
	}
	wg.Wait()
	var out []string
	for i, n := range needs {
		if n {
			out = append(out, addrs[i])
		}
	}
	return out
}

// needsSASL sends addr a binary-protocol "SASL list mechanisms" request and
// reports whether it answers with a list.
func needsSASL(ctx context.Context, addr string) bool {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A request header: magic 0x80, opcode 0x20 (list mechanisms), no key,
	// extras or body.
	req := make([]byte, 24)
	req[0], req[1] = 0x80, 0x20
	if _, err := conn.Write(req); err != nil {
		return false
	}
	// A response header: magic 0x81, the same opcode, status (bytes 6-7)
	// 0 for success, and the length of the body (bytes 8-11): the list.
	res := make([]byte, 24)
	if _, err := io.ReadFull(conn, res); err != nil {
		return false
	}
	return res[0] == 0x81 && res[1] == 0x20 && binary.BigEndian.Uint16(res[6:8]) == 0 && binary.BigEndian.Uint32(res[8:12]) > 0
}

package memcache

import (
	"cmp"
	"crypto/md5"
	"encoding/binary"
	"slices"
	"strconv"
)

// pointsPerServer is how many points each server has on the ring. With 160
// (ketama's number) every server's share is within a few percent of even.
const pointsPerServer = 160

// ring is a ketama-style consistent hash ring: each server owns the points
// hashed from its address, and a key belongs to the server owning the first
// point at or after the key's hash. Adding a server to n moves only about
// 1/(n+1) of the keys; modulo hashing would move n/(n+1).
//
// The ring depends only on the set of addresses, not on their order, so
// application instances configured with the same servers in any order agree
// on where every key lives. It is immutable and safe for concurrent use.
type ring struct {
	points  []point // sorted by hash, then by server address
	servers int
}

type point struct {
	hash   uint32
	server int // index into the addresses given to newRing
}

// newRing builds the ring for addrs, which must be distinct.
func newRing(addrs []string) *ring {
	r := &ring{points: make([]point, 0, len(addrs)*pointsPerServer), servers: len(addrs)}
	for i, addr := range addrs {
		// Each MD5 sum of "addr-j" gives four points, as in ketama.
		for j := range pointsPerServer / 4 {
			sum := md5.Sum([]byte(addr + "-" + strconv.Itoa(j)))
			for k := range 4 {
				r.points = append(r.points, point{binary.LittleEndian.Uint32(sum[4*k:]), i})
			}
		}
	}
	slices.SortFunc(r.points, func(a, b point) int {
		return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(addrs[a.server], addrs[b.server]))
	})
	return r
}

// hashKey is the position of key on the ring.
func hashKey(key string) uint32 {
	sum := md5.Sum([]byte(key))
	return binary.LittleEndian.Uint32(sum[:4])
}

// pick returns the server for a key at hash: the owner of the first point
// at or after hash whose server usable accepts, walking clockwise. It asks
// usable about each server at most once and returns -1 when none is usable.
func (r *ring) pick(hash uint32, usable func(server int) bool) int {
	start, _ := slices.BinarySearchFunc(r.points, hash, func(p point, h uint32) int {
		return cmp.Compare(p.hash, h)
	})
	var refused []bool // allocated only once a server is refused
	left := r.servers
	for n := range len(r.points) {
		s := r.points[(start+n)%len(r.points)].server
		if refused != nil && refused[s] {
			continue
		}
		if usable(s) {
			return s
		}
		if left--; left == 0 {
			break
		}
		if refused == nil {
			refused = make([]bool, r.servers)
		}
		refused[s] = true
	}
	return -1
}

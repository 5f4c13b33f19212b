package memcache

import (
	"fmt"
	"slices"
	"strconv"
	"testing"
)

func serverAddrs(n int) []string {
	addrs := make([]string, n)
	for i := range addrs {
		addrs[i] = fmt.Sprintf("10.0.0.%d:11211", i+1)
	}
	return addrs
}

func allUsable(int) bool { return true }

// owners returns, for each of n keys, the address of the server the ring
// picks.
func owners(addrs []string, n int) []string {
	r := newRing(addrs)
	out := make([]string, n)
	for i := range out {
		out[i] = addrs[r.pick(hashKey("task:"+strconv.Itoa(i)), allUsable)]
	}
	return out
}

func TestRingGrowthMovesOnlyTheNewServersShare(t *testing.T) {
	const keys = 10000
	before := owners(serverAddrs(3), keys)
	after := owners(serverAddrs(4), keys)
	newServer := serverAddrs(4)[3]
	moved, moduloMoved := 0, 0
	for i := range keys {
		if before[i] != after[i] {
			moved++
			if after[i] != newServer {
				t.Errorf("key %d moved from %s to %s, not to the new server", i, before[i], after[i])
			}
		}
		if h := hashKey("task:" + strconv.Itoa(i)); h%3 != h%4 {
			moduloMoved++
		}
	}
	share := float64(moved) / keys
	t.Logf("3 → 4 servers: ring moved %.3f of keys, modulo hashing %.3f", share, float64(moduloMoved)/keys)
	if share < 0.18 || share > 0.32 {
		t.Errorf("ring moved %.3f of keys, want about 1/4 (0.18–0.32)", share)
	}
	if float64(moduloMoved)/keys < 0.6 {
		t.Errorf("modulo hashing moved only %.3f of keys; the comparison is broken", float64(moduloMoved)/keys)
	}
}

func TestRingBalance(t *testing.T) {
	for _, n := range []int{2, 3, 4, 8} {
		t.Run(strconv.Itoa(n)+" servers", func(t *testing.T) {
			const keys = 100000
			count := map[string]int{}
			for _, a := range owners(serverAddrs(n), keys) {
				count[a]++
			}
			even := float64(keys) / float64(n)
			for _, a := range serverAddrs(n) {
				if r := float64(count[a]) / even; r < 0.75 || r > 1.25 {
					t.Errorf("%s holds %d keys, %.2f of an even share; want 0.75–1.25", a, count[a], r)
				}
			}
		})
	}
}

func TestRingIgnoresServerOrder(t *testing.T) {
	addrs := serverAddrs(5)
	reversed := slices.Clone(addrs)
	slices.Reverse(reversed)
	a, b := owners(addrs, 5000), owners(reversed, 5000)
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("key %d: %s with the servers in one order, %s in another", i, a[i], b[i])
		}
	}
}

func TestRingPickSkipsUnusableServers(t *testing.T) {
	addrs := serverAddrs(4)
	r := newRing(addrs)
	const down = 2
	for i := range 2000 {
		h := hashKey("k" + strconv.Itoa(i))
		asked := map[int]int{}
		usual := r.pick(h, allUsable)
		got := r.pick(h, func(s int) bool { asked[s]++; return s != down })
		for s, n := range asked {
			if n > 1 {
				t.Fatalf("key %d: server %d asked %d times", i, s, n)
			}
		}
		switch {
		case got == down:
			t.Fatalf("key %d went to the unusable server", i)
		case usual != down && got != usual:
			t.Fatalf("key %d moved from %d to %d though its server is usable", i, usual, got)
		}
	}
	asked := 0
	if got := r.pick(hashKey("k"), func(int) bool { asked++; return false }); got != -1 || asked != len(addrs) {
		t.Errorf("with no usable server: pick = %d after %d questions, want -1 after %d", got, asked, len(addrs))
	}
}

package memcache

import (
	"testing"

	"github.com/tasklist/tasklist/internal/cache/cachetest"
	"github.com/tasklist/tasklist/internal/testenv"
)

// benchClient returns a client for one fresh server of kind k.
func benchClient(b *testing.B, k kind) *Client {
	b.Helper()
	srv := testenv.StartMemcached(b, k.server)
	return newClient(b, k.options([]*testenv.Memcached{srv}))
}

func BenchmarkPlainGet(b *testing.B) { cachetest.BenchGet(b, benchClient(b, kinds[0])) }
func BenchmarkPlainSet(b *testing.B) { cachetest.BenchSet(b, benchClient(b, kinds[0])) }
func BenchmarkPlainGetMulti100(b *testing.B) {
	cachetest.BenchGetMulti(b, benchClient(b, kinds[0]), 100)
}
func BenchmarkSASLGet(b *testing.B) { cachetest.BenchGet(b, benchClient(b, kinds[1])) }
func BenchmarkSASLSet(b *testing.B) { cachetest.BenchSet(b, benchClient(b, kinds[1])) }
func BenchmarkSASLGetMulti100(b *testing.B) {
	cachetest.BenchGetMulti(b, benchClient(b, kinds[1]), 100)
}

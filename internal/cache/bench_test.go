package cache_test

import (
	"testing"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/cachetest"
)

// The benchmarks measure the local backend through the wrapper; compare with
// package local's to see what the wrapper costs.

func benchCache(b *testing.B) *cache.Cache {
	return newLocalCache(b, nil, cache.Options{Prefix: "tasklist:"})
}

func BenchmarkGet(b *testing.B) { cachetest.BenchGet(b, benchCache(b)) }

func BenchmarkSet(b *testing.B) { cachetest.BenchSet(b, benchCache(b)) }

func BenchmarkGetMulti100(b *testing.B) { cachetest.BenchGetMulti(b, benchCache(b), 100) }

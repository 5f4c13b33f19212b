// Package cache defines the contract every caching layer of tasklist uses
// (query cache, fragments, pages, sessions) and the policy wrapped around it:
// one key policy, timeouts, fail-open error handling and statistics.
//
// A Backend is a raw store: the in-process one (package cache/local) or a
// memcached cluster (package cache/memcache). Callers never use a Backend
// directly; they use *Cache, which makes every backend behave the same way.
//
// # TTL semantics
//
// An Item's TTL is how long it lives after it is written:
//
//   - 0 means no expiry: the item lives until it is deleted or evicted
//     ("forever" is spelled 0, as in memcached).
//   - A positive TTL expires the item after that long. memcached counts whole
//     seconds, so every backend rounds a positive TTL up to the next whole
//     second: 1ns and 1s both mean one second. TTLs longer than 30 days are
//     sent to memcached as an absolute time, so they mean what they say.
//   - A negative TTL is invalid (ErrInvalid).
//
// The cache is never the source of truth (invariant 1 in docs/invariants.md):
// every error a Cache returns on a read may be treated as a miss.
package cache

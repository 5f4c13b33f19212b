// Package memcache is tasklist's memcached backend: a cache.Backend over a
// cluster of memcached servers, either unauthenticated (MEMCACHE_SERVERS) or
// with SASL, as MemCachier requires (MEMCACHIER_SERVERS, _USERNAME,
// _PASSWORD).
//
// Both kinds share what makes a cluster behave well and is independent of
// the wire: keys are spread over the servers with a ketama-style consistent
// hash ring, so that adding a server moves only its share of keys; a server
// that keeps failing is marked down for a while and its keys go to the next
// server on the ring, so requests never queue behind a dead server's
// timeouts; and every server has client-side counters next to what its own
// "stats" command reports.
//
// The wire differs. Unauthenticated servers are spoken to with
// github.com/bradfitz/gomemcache, the most used Go client, one client per
// server behind our ring. SASL needs memcached's binary protocol, and the
// only SASL client on the module proxy (github.com/memcachier/mc/v3) races
// under -race, lacks multi-get and hashes modulo the server count, so this
// package has its own small binary-protocol client: a bounded pool of
// authenticated connections per server, multi-get pipelined as one round
// trip per server, and deadlines taken from the request's context.
package memcache

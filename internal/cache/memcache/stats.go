package memcache

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"

	"github.com/tasklist/tasklist/internal/cache"
)

// counters are the client-side counts for one server.
type counters struct {
	hits, misses, sets, deletes, errors atomic.Uint64
}

// Stats reports every server, in the order given to New: whether it is up,
// the client's counters (see cache.ServerStats), and what its "stats"
// command says. Servers marked down are not asked. Asking counts in none of
// the counters. The slice is complete even when the error, which
// names each server whose stats could not be read, is not nil; such a
// server is reported down.
func (c *Client) Stats(ctx context.Context) ([]cache.ServerStats, error) {
	out := make([]cache.ServerStats, len(c.servers))
	errs := make([]error, len(c.servers))
	c.eachServer(func(i int) {
		cs := &c.counters[i]
		st := cache.ServerStats{
			Addr: c.addrs[i], Up: c.health.up(i),
			Hits: cs.hits.Load(), Misses: cs.misses.Load(), Sets: cs.sets.Load(),
			Deletes: cs.deletes.Load(), Errors: cs.errors.Load(),
		}
		if st.Up && !c.closed.Load() {
			var m map[string]string
			m, errs[i] = c.servers[i].stats(ctx)
			c.observe(ctx, i, errs[i])
			st.Up = errs[i] == nil
			fillServerStats(&st, m)
		}
		out[i] = st
	})
	return out, errors.Join(errs...)
}

// fillServerStats copies the figures of a memcached "stats" reply into st.
func fillServerStats(st *cache.ServerStats, m map[string]string) {
	for name, field := range map[string]*uint64{
		"curr_items":       &st.Items,
		"bytes":            &st.Bytes,
		"limit_maxbytes":   &st.LimitBytes,
		"evictions":        &st.Evictions,
		"curr_connections": &st.CurrConnections,
		"uptime":           &st.Uptime,
		"get_hits":         &st.GetHits,
		"get_misses":       &st.GetMisses,
		"cmd_set":          &st.CmdSet,
	} {
		if v, err := strconv.ParseUint(m[name], 10, 64); err == nil {
			*field = v
		}
	}
}

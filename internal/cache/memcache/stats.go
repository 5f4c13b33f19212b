package memcache

import (
	"context"
	"errors"
	"strconv"

	"github.com/tasklist/tasklist/internal/stats"
)

// Stats reports every server, in the order given to New: whether it is up,
// the client's counters (see cache.Backend's Stats), and what its "stats"
// command says. Servers marked down are not asked. Asking counts in none of
// the counters. The slice is complete even when the error, which
// names each server whose stats could not be read, is not nil; such a
// server is reported down.
func (c *Client) Stats(ctx context.Context) ([]stats.Server, error) {
	out := make([]stats.Server, len(c.servers))
	errs := make([]error, len(c.servers))
	c.eachServer(func(i int) {
		st := stats.Server{Addr: c.addrs[i], Up: c.health.up(i), Client: c.counters[i].Counts()}
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
func fillServerStats(st *stats.Server, m map[string]string) {
	for name, field := range map[string]*uint64{
		"curr_items":       &st.Items,
		"bytes":            &st.Bytes,
		"limit_maxbytes":   &st.LimitBytes,
		"evictions":        &st.Evictions,
		"curr_connections": &st.CurrConnections,
		"uptime":           &st.UptimeSeconds,
		"get_hits":         &st.GetHits,
		"get_misses":       &st.GetMisses,
		"cmd_set":          &st.CmdSet,
	} {
		if v, err := strconv.ParseUint(m[name], 10, 64); err == nil {
			*field = v
		}
	}
}

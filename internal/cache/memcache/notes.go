package memcache

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
)

// A client that cannot deliver deletes to a server defers them (see
// Client.Delete) and replays them before it uses the server again. Another
// instance does not know that, and may read the server meanwhile: it saw
// the server come back first, or never saw it down. So before a client
// defers a delete for server i, it stores a note on every other server
// that answers; and a read of a volatile key (Options.Volatile) from server
// i reads the notes for i from the other servers in the same round trip,
// and takes the key for unavailable if one is there. The note lives
// noteTTL, and the client renews it while deletes wait for the server, so
// it outlives the last of them. docs/caching.md ("A server some instances
// cannot reach") has the races this closes.

// noteTTL is how long a note lives; a client renews its note once half of
// it has passed.
const noteTTL = 6 * time.Second

// errNoted reports a volatile key read from a server for which another
// client has noted deletes it could not make yet: the value may be one
// those deletes were meant to remove.
var errNoted = errors.New("another client holds deletes for this server (a note is set): its volatile keys may be stale")

// noteKey is the key of the note for server i.
func (c *Client) noteKey(i int) string { return "memcache:deferred:" + c.addrs[i] }

// note stores the note for server i on every other server and records it
// in i's health when at least one stored it. It reports whether the note
// is in place. Its requests go to servers this client has not marked down;
// a failure counts in their health as any request's would.
func (c *Client) note(ctx context.Context, i int) bool {
	start := c.now()
	item := cache.Item{Key: c.noteKey(i), Value: []byte(c.addrs[i])}
	exp, _ := c.expiration(noteTTL)
	var mu sync.Mutex
	stored := false
	c.eachServer(func(j int) {
		if j == i || !c.health.up(j) {
			return
		}
		err := c.servers[j].store(ctx, storeSet, item, exp)
		c.done(ctx, j, err)
		if err == nil {
			mu.Lock()
			stored = true
			mu.Unlock()
		}
	})
	if stored {
		c.health.noted(i, start)
	}
	return stored
}

// noteReads returns, for each server, the note keys to read there along
// with the keys of groups (keys by server): for every server whose group
// holds a volatile key, its note key on every other server not marked down.
func (c *Client) noteReads(groups [][]string) [][]string {
	notes := make([][]string, len(groups))
	for i, g := range groups {
		if !c.anyVolatile(g) {
			continue
		}
		for j := range groups {
			if j != i && c.health.up(j) {
				notes[j] = append(notes[j], c.noteKey(i))
			}
		}
	}
	return notes
}

// anyVolatile reports whether keys hold a key of Options.Volatile.
func (c *Client) anyVolatile(keys []string) bool { return slices.ContainsFunc(keys, c.isVolatile) }

// isVolatile reports whether key is one of Options.Volatile, whose reads
// check the notes.
func (c *Client) isVolatile(key string) bool { return slices.Contains(c.volatile(), key) }

// noted reports whether found, items read with noteReads, holds a note for
// server i.
func (c *Client) noted(found map[string]cache.Item, i int) bool {
	_, ok := found[c.noteKey(i)]
	return ok
}

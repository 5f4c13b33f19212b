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
// and takes the key for unavailable if one is there, or if it could not
// read them all (a server it has marked down, or one that failed): a note
// may be there. So while an instance sees one server down, it reads what
// the volatile keys hold from the source. The note lives noteTTL, and the
// client renews it while deletes wait for the server, so it outlives the
// last of them; it counts for the client only while a server holding it
// has not failed since (see noteRecord). docs/caching.md ("A server some
// instances cannot reach") has the races this closes.

// noteTTL is how long a note lives; a client renews its note once half of
// it has passed.
const noteTTL = 6 * time.Second

// errNoted reports a volatile key read from a server for which another
// client has noted deletes it could not make yet: the value may be one
// those deletes were meant to remove.
var errNoted = errors.New("another client holds deletes for this server (a note is set): its volatile keys may be stale")

// errBlind reports a volatile key read from a server while the notes for it
// on another server could not be read: one may be there.
var errBlind = errors.New("the notes for this server on another server could not be read: its volatile keys may be stale")

// noteKey is the key of the note for server i (made once, in New: every
// read of a volatile key asks for it).
func (c *Client) noteKey(i int) string { return c.noteKeys[i] }

// note stores the note for server i on every other server and records it
// in i's health when at least one stored it. It reports whether the note
// is in place. Its requests go to servers this client has not marked down;
// a failure counts in their health as any request's would.
func (c *Client) note(ctx context.Context, i int) bool {
	start := c.now()
	item := cache.Item{Key: c.noteKey(i), Value: []byte(c.addrs[i])}
	exp, _ := c.expiration(noteTTL)
	var mu sync.Mutex
	var holders []noteHolder
	c.eachServer(func(j int) {
		if j == i || !c.health.up(j) {
			return
		}
		failed := c.health.failedCount(j)
		err := c.servers[j].store(ctx, storeSet, item, exp)
		c.done(ctx, j, err)
		if err == nil {
			mu.Lock()
			holders = append(holders, noteHolder{server: j, failed: failed})
			mu.Unlock()
		}
	})
	if holders != nil {
		c.health.noted(i, start, holders)
	}
	return holders != nil
}

// noteReads returns, for each server, the note keys to read there along
// with the keys of groups (keys by server): for every server whose group
// holds a volatile key, its note key on every other server not marked down;
// and, by server, how that group's volatile keys are guarded. With a single
// server there are no notes, and both are nil.
func (c *Client) noteReads(groups [][]string) (notes [][]string, guards []guard) {
	if len(groups) == 1 {
		return nil, nil
	}
	notes = make([][]string, len(groups))
	guards = make([]guard, len(groups))
	for i, g := range groups {
		if !c.anyVolatile(g) {
			continue
		}
		guards[i] = watched
		for j := range groups {
			switch {
			case j == i:
			case c.health.up(j):
				notes[j] = append(notes[j], c.noteKey(i))
			default:
				guards[i] = blind
			}
		}
	}
	return notes, guards
}

// guard says how the volatile keys of a server's group in a multi-get are
// guarded by the notes (see noteReads).
type guard uint8

const (
	unguarded guard = iota // the group holds no volatile key
	watched                // its notes are read on every other server
	blind                  // another server is marked down: its notes cannot be read
)

// distrust returns, by server, why the volatile keys read from it cannot be
// trusted, or nil for each server whose can (nil in all for a single
// server): another server's notes went unread (blind, or its read failed:
// errs, by server), or one of them says that a client holds deletes for it.
// found holds what the multi-get found, notes included.
func (c *Client) distrust(guards []guard, errs []error, found map[string]cache.Item) []error {
	if guards == nil {
		return nil
	}
	why := make([]error, len(guards))
	for i, g := range guards {
		if g == unguarded || errs[i] != nil {
			continue
		}
		for j, err := range errs {
			if j != i && err != nil {
				g = blind
			}
		}
		if g == blind {
			why[i] = errBlind
		} else if _, ok := found[c.noteKey(i)]; ok {
			why[i] = errNoted
		}
	}
	return why
}

// anyVolatile reports whether keys hold a key of Options.Volatile.
func (c *Client) anyVolatile(keys []string) bool { return slices.ContainsFunc(keys, c.isVolatile) }

// isVolatile reports whether key is one of Options.Volatile, whose reads
// check the notes.
func (c *Client) isVolatile(key string) bool { return slices.Contains(c.volatile(), key) }

package pagecache

import (
	"context"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

// versioned is what the page cache and the fragment cache have in common:
// values keyed by the list's version and a name, which never change once
// stored (a write moves the version on instead), read in the same round
// trip as the version, and kept in process memory for the current version.
//
// A lookup takes two steps, so that a caller can answer from the version
// alone in between (a page's 304): version reads the version, and with it
// the value under the version this process saw last, unless that one is in
// memory; entry then serves the value from memory, from that read, or
// through package fill, which renders it once for all the requests that
// want it, across instances.
//
// It is safe for concurrent use.
type versioned struct {
	versions Versions
	group    *fill.Group
	ttl      time.Duration
	// prefix starts every key: the kind of value and the templates' build.
	prefix string
	mem    *memory
	// decode turns a stored value into what is kept in memory.
	decode func([]byte) (*entry, error)
	// counts is the layer's counter: the group's fills count in it, and a
	// value served from memory is a hit.
	counts *stats.Counter
}

// versionRead is the version read by versioned.version, with what came
// with it.
type versionRead struct {
	v     tasks.Version
	items map[string]cache.Item
}

// key is the cache key of the value named name under version v: it names
// the database and the revision (see tasks.Version).
func (c *versioned) key(v tasks.Version, name string) string {
	return c.prefix + ":v" + v.String() + ":" + name
}

// version reads the version, and the value named name under the version
// seen last, unless it is in memory or unchanged (nil: never) reports that
// the caller will answer from that version alone (a page's 304).
func (c *versioned) version(ctx context.Context, name string, unchanged func(v tasks.Version) bool) (versionRead, error) {
	v, items, err := c.versions.VersionWith(ctx, func(guess tasks.Version) []string {
		if (unchanged != nil && unchanged(guess)) || c.mem.get(guess, name) != nil {
			return nil // the version alone will do
		}
		return []string{c.key(guess, name)}
	})
	return versionRead{v: v, items: items}, err
}

// loader makes a value of exactly version v, or fails with tasks.ErrMoved.
type loader func(ctx context.Context, v tasks.Version) ([]byte, error)

// current returns the version as it is now and the value named name under
// it: from memory, from the version's read, or made through the loader
// that newLoad returns (called on a miss only, so that a hit allocates
// none). When the list moves on while the value is made, the requests
// that waited for it read the version again and share the next one,
// rather than each make its own; after maxMoves such moves the error is
// tasks.ErrMoved. unchanged (nil: never) ends the lookup at the version
// read, with no entry, when it reports that the caller's copy is current.
func (c *versioned) current(ctx context.Context, name string, unchanged func(v tasks.Version) bool, newLoad func() loader) (tasks.Version, *entry, fill.Outcome, error) {
	for range maxMoves {
		read, err := c.version(ctx, name, unchanged)
		if err != nil {
			return tasks.Version{}, nil, 0, err
		}
		if unchanged != nil && unchanged(read.v) {
			c.counts.Hits.Add(1)
			return read.v, nil, fill.Hit, nil
		}
		e, outcome, err := c.get(ctx, read, name, newLoad)
		if !errors.Is(err, tasks.ErrMoved) {
			return read.v, e, outcome, err
		}
	}
	return tasks.Version{}, nil, 0, tasks.ErrMoved
}

// get returns the value named name under the version read: from memory
// (fromMemory), or through entry with the loader newLoad returns.
func (c *versioned) get(ctx context.Context, read versionRead, name string, newLoad func() loader) (*entry, fill.Outcome, error) {
	if e := c.fromMemory(read, name); e != nil {
		return e, fill.Hit, nil
	}
	return c.entry(ctx, read, name, newLoad())
}

// fromMemory returns the value named name under the version read when this
// process keeps it (a hit), else nil. Callers look here before they make
// the loader entry needs, so that a hit allocates none.
func (c *versioned) fromMemory(read versionRead, name string) *entry {
	e := c.mem.get(read.v, name)
	if e != nil {
		c.counts.Hits.Add(1)
	}
	return e
}

// entry returns the value named name under the version read, not in
// memory (see fromMemory): from the read, or loaded through load, which is
// given the version and must make the value of exactly that version (else
// fail, with tasks.ErrMoved); what it returns is kept in memory.
func (c *versioned) entry(ctx context.Context, read versionRead, name string, load loader) (*entry, fill.Outcome, error) {
	key := c.key(read.v, name)
	it, gerr := cache.Lookup(read.items, key)
	res, err := c.group.Resolve(ctx, fill.Spec{
		Key: key, TTL: c.ttl, Immutable: true,
		Load: func(ctx context.Context) ([]byte, time.Time, error) {
			b, err := load(ctx, read.v)
			return b, time.Time{}, err
		},
	}, it, gerr)
	if err != nil {
		return nil, 0, err
	}
	e, err := c.decode(res.Data)
	if err != nil {
		return nil, 0, err
	}
	c.mem.put(read.v, name, e)
	return e, res.Outcome, nil
}

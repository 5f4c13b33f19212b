// Package pagecache is tasklist's HTTP caching layer: whole pages and list
// fragments keyed by the task list's version, kept in the shared cache and
// in process memory, rows keyed by what they show, entity tags from the
// version (304 from the version alone), and the page stored with its gzip
// compression. The web server's handlers call it: Pages is middleware
// around the list's handler, which it gives the version to render as an
// argument; Fragments returns a page's list card and rows.
//
// Nothing in it is ever invalidated: a write moves the version on, and what
// was keyed by the old version is never asked for again (docs/caching.md,
// "Pages and fragments"). Every value goes through package fill, so one
// render serves every request that wants it, across instances.
package pagecache

import (
	"cmp"
	"context"
	"errors"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Versions is the task list's version (taskcache.Store): what pages and
// fragments are keyed by.
type Versions interface {
	// VersionWith returns the version, and reads in the same round trip
	// the keys that extra names for the version guess; items holds what
	// was found under them when the guess was right, nil otherwise.
	VersionWith(ctx context.Context, extra func(guess tasks.Version) []string) (v tasks.Version, items map[string]cache.Item, err error)
}

// DefaultMemory bounds the in-process copies of pages, and those of list
// fragments, when Options.Memory is 0.
const DefaultMemory = 16 << 20

// Options configure Pages and Fragments; Cache and Versions are required.
type Options struct {
	Cache    *cache.Cache
	Versions Versions
	// Build names what renders the values — the templates and static
	// files — in every key, so that instances of different builds never
	// serve each other's HTML.
	Build string
	// TTL is how long values live in the cache (default 1h): they are
	// never stale, so it only lets old versions' values age out.
	TTL time.Duration
	// LeaseTTL bounds a render before others stop waiting for it (see
	// fill.Options).
	LeaseTTL time.Duration
	// Memory bounds, in bytes, the current version's values kept in process
	// memory (default DefaultMemory).
	Memory int
}

// maxMoves bounds how often a lookup starts again because the list moved
// on while its value was made.
const maxMoves = 3

// lookup returns the version-keyed lookup of values whose keys start with
// prefix and the build, counting in counts.
func (o Options) lookup(prefix string, decode func([]byte) (*entry, error), counts *stats.Counter) (*versioned, error) {
	if o.Cache == nil || o.Versions == nil {
		return nil, errors.New("pagecache: Options.Cache and Options.Versions are required")
	}
	return &versioned{
		versions: o.Versions,
		group:    fill.New(o.Cache, fill.Options{LeaseTTL: o.LeaseTTL, Counter: counts}),
		counts:   counts,
		ttl:      cmp.Or(o.TTL, time.Hour),
		prefix:   prefix + o.Build,
		mem:      newMemory(cmp.Or(o.Memory, DefaultMemory)),
		decode:   decode,
	}, nil
}

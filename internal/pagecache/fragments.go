package pagecache

import (
	"context"
	"errors"
	"html/template"
	"time"

	"github.com/tasklist/tasklist/internal/cache"
	"github.com/tasklist/tasklist/internal/cache/fill"
	"github.com/tasklist/tasklist/internal/reqtrace"
	"github.com/tasklist/tasklist/internal/stats"
	"github.com/tasklist/tasklist/internal/tasks"
)

// Fragments is the fragment cache, Russian-doll style: the task-list
// fragment of a page is cached under the list's version and holds the rows;
// each row is cached under a key derived from everything it shows. A write
// moves the version on, so the next render of a page re-renders the outer
// list but finds every unchanged row in the cache (one multi-get) and
// renders and stores only the rows that changed.
//
// Like pages, list fragments are looked up by version (see versioned): the
// current version's are also kept in process memory, so a hit reads only
// the version.
//
// Neither needs invalidating. A list fragment's key names the version
// (the database and the revision), and what is stored under it shows
// exactly that version; a row's key is a hash of what the row shows and of
// the database, so a renamed, toggled or re-used id can never find an old
// row, whatever the database does with ids.
//
// It is safe for concurrent use.
type Fragments struct {
	c     *cache.Cache
	lists *versioned
	ttl   time.Duration
	build string // Options.Build
	// counts is the layer's counter (see Counts).
	counts stats.Counter
}

// NewFragments returns the fragment cache.
func NewFragments(o Options) (*Fragments, error) {
	f := &Fragments{c: o.Cache, build: o.Build}
	lists, err := o.lookup("frag:list:", fragmentEntry, &f.counts)
	if err != nil {
		return nil, err
	}
	f.lists, f.ttl = lists, lists.ttl
	return f, nil
}

// List returns the task-list fragment that sel names at version v, made by
// render on a miss, once for all the requests that want it (package fill);
// render is given the version and must make the fragment of exactly that
// version, or fail with tasks.ErrMoved.
//
// With the zero v it reads the version itself, and the fragment under the
// version seen last in the same round trip; when the list moves on while
// the fragment is made, it reads the version again, and after a few such
// moves has render make it for the list as it is now (the zero version),
// without the cache. With a v given — inside a page's render, whose
// version it is — it makes the fragment of that version or fails: two reads
// of one instance can go back (the first from the database because the
// cache failed, after a write committed; the second from the cache, before
// that write invalidated it), and a page keyed by a version must show that
// version (docs/caching.md).
func (f *Fragments) List(ctx context.Context, v tasks.Version, sel string, render func(ctx context.Context, v tasks.Version) ([]byte, error)) ([]byte, error) {
	var (
		e       *entry
		outcome fill.Outcome
		err     error
	)
	newLoad := func() loader { return render }
	if v == (tasks.Version{}) {
		_, e, outcome, err = f.lists.current(ctx, sel, nil, newLoad)
		if errors.Is(err, tasks.ErrMoved) {
			return render(ctx, tasks.Version{}) // moved on at every try: made without the cache
		}
	} else {
		e, outcome, err = f.lists.get(ctx, versionRead{v: v}, sel, newLoad) // nothing read with v
	}
	if err != nil {
		return nil, err
	}
	reqtrace.From(ctx).Cache(reqtrace.Fragment, outcome)
	return e.body, nil
}

// fragmentEntry is a stored list fragment as kept in memory: as it is.
func fragmentEntry(b []byte) (*entry, error) { return &entry{body: b}, nil }

// Rows returns the rendered row of each task of database db: those in the
// cache from one multi-get, the others rendered with render (given the
// row's seen token, tasks.Seen) and then stored together.
func (f *Fragments) Rows(ctx context.Context, db string, ts []tasks.Task, render func(t tasks.Task, seen string) ([]byte, error)) ([]template.HTML, error) {
	keys := make([]string, len(ts))
	seen := make([]string, len(ts))
	for i, t := range ts {
		seen[i] = tasks.Seen(db, t)
		keys[i] = f.rowKey(seen[i])
	}
	// On an error the map holds what the servers that answered had.
	items, err := f.c.GetMulti(ctx, keys)
	if err != nil {
		f.counts.Errors.Add(1)
	}
	rows := make([]template.HTML, len(ts))
	var store []cache.Item
	for i, t := range ts {
		if it, ok := items[keys[i]]; ok {
			rows[i] = template.HTML(it.Value) // rendered by our own templates
			continue
		}
		b, err := render(t, seen[i])
		if err != nil {
			return nil, err
		}
		rows[i] = template.HTML(b)
		store = append(store, cache.Item{Key: keys[i], Value: b, TTL: f.ttl})
	}
	f.counts.Hits.Add(uint64(len(ts) - len(store)))
	f.counts.Misses.Add(uint64(len(store)))
	if len(store) > 0 {
		if f.c.SetMulti(ctx, store) == nil {
			f.counts.Sets.Add(uint64(len(store)))
		} else {
			f.counts.Errors.Add(1)
		}
	}
	return rows, nil
}

// rowKey is the key of a row whose seen token is seen: the token is a hash
// of all that the row shows (the database, the id, the name, done; see
// tasks.Seen), and the key adds the templates that render it.
func (f *Fragments) rowKey(seen string) string {
	return "frag:row:" + f.build + ":" + seen
}

// Counts returns what the fragment cache did since it was made, as the
// dashboard shows it: list fragments (counted by their fills, package fill;
// one served from process memory is a hit too) and rows together. A
// multi-get or a store of rows that the cache failed is an error.
func (f *Fragments) Counts() stats.Counts { return f.counts.Counts() }

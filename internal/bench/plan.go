package bench

import (
	"fmt"
	"regexp"

	"github.com/tasklist/tasklist/internal/bench/report"
)

// Caches the app can use.
const (
	NoCache   = ""
	InProcess = "in-process"
	Memcached = "memcached"
)

// Layer sets, as TASKLIST_CACHE_LAYERS spells them.
const (
	LayersNone  = "none"
	LayersQuery = "query"
	LayersFrag  = "query,fragment"
	LayersAll   = "query,fragment,page"
)

// mode is one server under load: the app in one configuration, or one of
// the references that send the page.
type mode struct {
	kind   string // report.App, report.Bare, report.Same or report.Nginx
	db     string
	cache  string
	layers string
	tasks  int
	mixed  bool
	// gzip: the reads ask for the page compressed (Accept-Encoding: gzip,
	// as every browser does); without it, identity.
	gzip bool
}

// workload names the mode's requests.
func (m mode) workload() string {
	if m.mixed {
		return "mixed"
	}
	return "read"
}

// encoding names what the mode's reads ask for.
func (m mode) encoding() string {
	if m.gzip {
		return "gzip"
	}
	return "identity"
}

// key identifies the mode in results and targets.
func (m mode) key() string {
	switch m.kind {
	case report.App:
		return fmt.Sprintf("app/%s/%d/%s/%s/%s/%s", m.db, m.tasks, cacheName(m.cache), m.layers, m.workload(), m.encoding())
	case report.Same:
		return m.kind + "/" + m.encoding()
	}
	return m.kind
}

// appKey is the key of the app mode with these settings.
func appKey(db string, tasks int, cache, layers string, mixed, gzip bool) string {
	return mode{kind: report.App, db: db, tasks: tasks, cache: cache, layers: layers, mixed: mixed, gzip: gzip}.key()
}

func cacheName(c string) string {
	if c == NoCache {
		return "nocache"
	}
	return c
}

// name is the mode as a person reads it (the encoding has a column of
// its own).
func (m mode) name() string {
	switch m.kind {
	case report.Bare:
		return "bare Go handler, three headers"
	case report.Same:
		return "bare Go handler, same response"
	case report.Nginx:
		return "nginx, same body as a static file"
	}
	layers := map[string]string{
		LayersNone:  "layers none",
		LayersQuery: "query",
		LayersFrag:  "query+fragment",
		LayersAll:   "all layers",
	}[m.layers]
	if m.cache == NoCache {
		return layers
	}
	return layers + ", " + m.cache
}

// plan lists the modes of a run: the references first, then every read
// mode twice, identity and gzip. Quick runs the modes the targets name, on
// SQLite with 100 tasks; the full run adds the other layer sets, the
// larger lists, more mixed runs, and the database servers in dbs.
func plan(quick, nginx bool, dbs []string) []mode {
	modes := []mode{{kind: report.Bare}, {kind: report.Same}, {kind: report.Same, gzip: true}}
	if nginx {
		modes = append(modes, mode{kind: report.Nginx})
	}
	app := func(db string, tasks int, cache, layers string, mixed, gzip bool) {
		modes = append(modes, mode{kind: report.App, db: db, tasks: tasks, cache: cache, layers: layers, mixed: mixed, gzip: gzip})
	}
	read := func(db string, tasks int, cache, layers string) {
		app(db, tasks, cache, layers, false, false)
		app(db, tasks, cache, layers, false, true)
	}
	read(SQLite, 100, NoCache, LayersNone)
	if quick {
		read(SQLite, 100, InProcess, LayersFrag)
		read(SQLite, 100, InProcess, LayersAll)
		read(SQLite, 100, Memcached, LayersAll)
		app(SQLite, 100, Memcached, LayersAll, true, true)
		return modes
	}
	for _, cache := range []string{InProcess, Memcached} {
		for _, layers := range []string{LayersQuery, LayersFrag, LayersAll} {
			read(SQLite, 100, cache, layers)
		}
	}
	app(SQLite, 100, Memcached, LayersQuery, true, true)
	app(SQLite, 100, Memcached, LayersAll, true, true)
	app(SQLite, 100, Memcached, LayersAll, true, false)
	app(SQLite, 100, InProcess, LayersAll, true, true)
	for _, n := range []int{1000, 10000} {
		read(SQLite, n, NoCache, LayersNone)
		read(SQLite, n, Memcached, LayersAll)
	}
	for _, db := range dbs {
		read(db, 100, NoCache, LayersNone)
		read(db, 100, Memcached, LayersQuery)
		read(db, 100, Memcached, LayersAll)
	}
	return modes
}

// only keeps the modes whose key filter matches, and the three-header
// bare handler, which every mode is paired with. A nil filter keeps all.
func only(modes []mode, filter *regexp.Regexp) []mode {
	if filter == nil {
		return modes
	}
	var kept []mode
	for _, m := range modes {
		if m.kind == report.Bare || filter.MatchString(m.key()) {
			kept = append(kept, m)
		}
	}
	return kept
}

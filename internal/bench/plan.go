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
// the references that send the page's bytes.
type mode struct {
	kind   string // report.App, report.Bare or report.Nginx
	db     string
	cache  string
	layers string
	tasks  int
	mixed  bool
}

// workload names the mode's requests.
func (m mode) workload() string {
	if m.mixed {
		return "mixed"
	}
	return "read"
}

// key identifies the mode in results and targets.
func (m mode) key() string {
	if m.kind != report.App {
		return m.kind
	}
	return fmt.Sprintf("app/%s/%d/%s/%s/%s", m.db, m.tasks, cacheName(m.cache), m.layers, m.workload())
}

// appKey is the key of the app mode with these settings.
func appKey(db string, tasks int, cache, layers string, mixed bool) string {
	return mode{kind: report.App, db: db, tasks: tasks, cache: cache, layers: layers, mixed: mixed}.key()
}

func cacheName(c string) string {
	if c == NoCache {
		return "nocache"
	}
	return c
}

// name is the mode as a person reads it.
func (m mode) name() string {
	switch m.kind {
	case report.Bare:
		return "bare Go handler, same bytes"
	case report.Nginx:
		return "nginx, same bytes as a static file"
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

// plan lists the modes of a run. Quick runs the modes the targets name,
// on SQLite with 100 tasks; the full run adds the other layer sets, the
// larger lists, and the database servers in dbs.
func plan(quick, nginx bool, dbs []string) []mode {
	modes := []mode{{kind: report.Bare}}
	if nginx {
		modes = append(modes, mode{kind: report.Nginx})
	}
	app := func(db string, tasks int, cache, layers string, mixed bool) {
		modes = append(modes, mode{kind: report.App, db: db, tasks: tasks, cache: cache, layers: layers, mixed: mixed})
	}
	app(SQLite, 100, NoCache, LayersNone, false)
	if quick {
		app(SQLite, 100, InProcess, LayersFrag, false)
		app(SQLite, 100, InProcess, LayersAll, false)
		app(SQLite, 100, Memcached, LayersAll, false)
		app(SQLite, 100, Memcached, LayersQuery, true)
		app(SQLite, 100, Memcached, LayersAll, true)
		return modes
	}
	for _, cache := range []string{InProcess, Memcached} {
		for _, layers := range []string{LayersQuery, LayersFrag, LayersAll} {
			app(SQLite, 100, cache, layers, false)
		}
	}
	app(SQLite, 100, Memcached, LayersQuery, true)
	app(SQLite, 100, Memcached, LayersAll, true)
	app(SQLite, 100, InProcess, LayersAll, true)
	for _, n := range []int{1000, 10000} {
		app(SQLite, n, NoCache, LayersNone, false)
		app(SQLite, n, Memcached, LayersAll, false)
	}
	for _, db := range dbs {
		app(db, 100, NoCache, LayersNone, false)
		app(db, 100, Memcached, LayersQuery, false)
		app(db, 100, Memcached, LayersAll, false)
	}
	return modes
}

// only keeps the modes whose key filter matches, and the bare handler,
// which every ratio needs. A nil filter keeps all.
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
